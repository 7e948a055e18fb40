//! Writes the CRD manifests generated from the Rust types into `crds/` and
//! `charts/ci-cd-monitor/crds/`. Run from anywhere: `cargo run -p cicd-monitor-crds --bin crdgen`.

use std::path::Path;

use cicd_monitor_crds::crdgen::{manifests, DIRS};

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crds crate lives in the workspace");
    for dir in DIRS {
        let dir = root.join(dir);
        std::fs::create_dir_all(&dir)?;
        for (file, yaml) in manifests() {
            let path = dir.join(file);
            std::fs::write(&path, yaml)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

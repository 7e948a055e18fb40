//! Writes the CRD manifests generated from the Rust types into `crds/` and
//! `charts/ci-cd-monitor/crds/`. Run from anywhere: `cargo run -p cicd-monitor-crds --bin crdgen`.

use cicd_monitor_crds::crdgen::{manifests, workspace_root, DIRS};

fn main() -> std::io::Result<()> {
    let root = workspace_root();
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

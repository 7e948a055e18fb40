//! placeholder until the delivery module lands
use super::{Delivery, Notice, Target};
pub async fn send(_client: &reqwest::Client, _target: &Target, _notice: &Notice) -> Delivery {
    Delivery::Permanent {
        reason: "not implemented".into(),
    }
}

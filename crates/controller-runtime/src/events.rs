//! Kubernetes Events: one [`Recorder`] per controller, naming the controller and the
//! replica that acted (`reportingController`, `reportingInstance`).

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};

/// A recorder reporting as `controller`, from `instance` (this replica's identity; the
/// leader-election identity says which replica acted). Without one, `$POD_NAME` is used.
pub fn recorder(client: Client, controller: &str, instance: Option<String>) -> Recorder {
    let reporter = Reporter {
        controller: controller.to_owned(),
        instance: instance.or_else(|| std::env::var("POD_NAME").ok()),
    };
    Recorder::new(client, reporter)
}

/// This replica's name among its peers: `$POD_NAME`, or `<controller>-<pid>` outside a Pod.
pub fn identity(controller: &str) -> String {
    std::env::var("POD_NAME").unwrap_or_else(|_| format!("{controller}-{}", std::process::id()))
}

//! `rukpakctl content`: the files of an unpacked Bundle, listed as `tar tzv` lists them.
//! Upstream ran a Job with a curl image to fetch them; we fetch them from here.

use std::io::Write;

use kube::api::Api;
use olm_api::Bundle;

use super::CtlError;
use super::connect::{self, Purpose, Route};

pub(crate) struct ContentRequest {
    pub(crate) bundle: String,
    pub(crate) namespace: String,
    pub(crate) ca_secret: String,
    pub(crate) address: Option<String>,
}

impl ContentRequest {
    pub(crate) async fn run(
        self,
        kube: &kube::Client,
        config: &kube::Config,
        out: &mut impl Write,
    ) -> Result<(), CtlError> {
        let url = self.content_url(kube).await?;
        let ca = connect::ca_pem(kube, &self.namespace, &self.ca_secret).await?;
        let token =
            connect::bearer_token(kube, config, &self.namespace, Purpose::ReadContent).await?;
        let route = Route::for_url(&url, self.address.as_deref());
        let connection = connect::connect(kube, &url, route, &ca).await?;
        let response = connection
            .http
            .get(url.clone())
            .bearer_auth(token)
            .send()
            .await
            .map_err(CtlError::Http)?;
        let status = response.status();
        let body = response.bytes().await.map_err(CtlError::Http)?;
        if !status.is_success() {
            return Err(CtlError::Server {
                method: "GET",
                url: url.to_string(),
                status,
                body: String::from_utf8_lossy(&body).trim().to_owned(),
            });
        }
        list(&body, out).map_err(|source| match source.kind() {
            std::io::ErrorKind::BrokenPipe => CtlError::Output(source),
            _ => CtlError::Content {
                bundle: self.bundle.clone(),
                source,
            },
        })
    }

    async fn content_url(&self, kube: &kube::Client) -> Result<reqwest::Url, CtlError> {
        let bundles: Api<Bundle> = Api::all(kube.clone());
        let bundle = bundles
            .get_opt(&self.bundle)
            .await
            .map_err(|source| CtlError::Kube {
                action: format!("reading bundle {:?}", self.bundle),
                source,
            })?
            .ok_or_else(|| CtlError::BundleNotFound(self.bundle.clone()))?;
        let status = bundle.status.unwrap_or_default();
        let no_url = || CtlError::NoContentUrl {
            bundle: self.bundle.clone(),
            phase: status.phase.clone().unwrap_or_default(),
        };
        let url = status
            .content_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or_else(no_url)?;
        url.parse().map_err(|_| no_url())
    }
}

/// Writes one line per archive entry: mode, owner, size, modification time, path.
fn list(tgz: &[u8], out: &mut impl Write) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    for entry in archive.entries()? {
        let entry = entry?;
        let header = entry.header();
        let mtime = header.mtime().unwrap_or(0);
        let time = i64::try_from(mtime)
            .ok()
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        writeln!(
            out,
            "{} {}/{} {:>8} {} {}",
            mode_string(header.entry_type(), header.mode().unwrap_or(0)),
            header.uid().unwrap_or(0),
            header.gid().unwrap_or(0),
            header.size().unwrap_or(0),
            time.strftime("%Y-%m-%d %H:%M:%S"),
            entry.path()?.display(),
        )?;
    }
    Ok(())
}

fn mode_string(kind: tar::EntryType, mode: u32) -> String {
    let first = match kind {
        tar::EntryType::Directory => 'd',
        tar::EntryType::Symlink => 'l',
        _ => '-',
    };
    let mut s = String::from(first);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_listed_like_tar_tzv() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("manifests")).unwrap();
        std::fs::write(dir.path().join("manifests/cm.yaml"), "kind: ConfigMap\n").unwrap();
        let archive = super::super::archive_dir(dir.path()).unwrap();
        let mut out = Vec::new();
        list(&archive.bytes, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "drwxr-xr-x 0/0        0 1970-01-01 00:00:00 manifests\n\
             -rw-r--r-- 0/0       16 1970-01-01 00:00:00 manifests/cm.yaml\n"
        );
    }

    #[test]
    fn a_body_that_is_not_a_tgz_is_an_error() {
        assert!(list(b"not gzip", &mut Vec::new()).is_err());
    }
}

//! Where the inventory lives: Secrets in the system namespace, owned by the owner.
//!
//! The head Secret `rukpak-inventory-<owner>` holds the first chunk of the compressed
//! document, the names of the shard Secrets holding the rest, and the SHA-256 of the
//! whole. Shards are named after their content's hash and immutable, so writing new shards
//! never touches those the current head points to; the head is then replaced in one
//! write, and shards it no longer names are deleted. A crash at any point leaves a head
//! whose shards all exist.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use sha2::{Digest, Sha256};

use crate::error::ApplyError;
use crate::inventory::Inventory;
use crate::owner::Owner;

/// Label on every inventory Secret: the owner's name (to find stale shards).
pub const INVENTORY_LABEL: &str = "core.rukpak.io/inventory-of";
/// Type of the inventory Secrets.
pub const INVENTORY_SECRET_TYPE: &str = "core.rukpak.io/inventory";

const KEY_CHUNK: &str = "inventory";
const KEY_SHARDS: &str = "shards";
const KEY_SHA256: &str = "sha256";

pub(crate) struct Store<'a> {
    pub(crate) api: Api<Secret>,
    pub(crate) namespace: &'a str,
    pub(crate) field_manager: &'a str,
    pub(crate) shard_bytes: usize,
}

/// Name of the head Secret of `owner`'s inventory.
pub fn inventory_secret_name(owner: &Owner) -> String {
    format!("rukpak-inventory-{}", owner.name)
}

impl Store<'_> {
    fn store_error(&self, action: &'static str, name: &str, source: kube::Error) -> ApplyError {
        ApplyError::InventoryStore {
            action,
            namespace: self.namespace.to_owned(),
            name: name.to_owned(),
            source,
        }
    }

    fn corrupt(&self, name: &str, reason: impl Into<String>) -> ApplyError {
        ApplyError::InventoryCorrupt {
            namespace: self.namespace.to_owned(),
            name: name.to_owned(),
            reason: reason.into(),
        }
    }

    /// The stored inventory, `None` when there is none.
    pub(crate) async fn read(&self, owner: &Owner) -> Result<Option<Inventory>, ApplyError> {
        let head_name = inventory_secret_name(owner);
        let Some(head) = self
            .api
            .get_opt(&head_name)
            .await
            .map_err(|e| self.store_error("reading", &head_name, e))?
        else {
            return Ok(None);
        };
        let data = head.data.unwrap_or_default();
        let field = |key: &str| data.get(key).map(|b| b.0.as_slice());
        let mut bytes = field(KEY_CHUNK)
            .ok_or_else(|| self.corrupt(&head_name, format!("no {KEY_CHUNK} key")))?
            .to_vec();
        let shards = String::from_utf8_lossy(field(KEY_SHARDS).unwrap_or_default()).into_owned();
        for shard in shards.lines().filter(|l| !l.is_empty()) {
            let secret = self
                .api
                .get(shard)
                .await
                .map_err(|e| self.store_error("reading", shard, e))?;
            let chunk = secret.data.and_then(|mut d| d.remove(KEY_CHUNK));
            let chunk = chunk.ok_or_else(|| self.corrupt(shard, format!("no {KEY_CHUNK} key")))?;
            bytes.extend_from_slice(&chunk.0);
        }
        let expected = String::from_utf8_lossy(field(KEY_SHA256).unwrap_or_default()).into_owned();
        if hex::encode(Sha256::digest(&bytes)) != expected {
            return Err(self.corrupt(&head_name, "the shards do not match the recorded sha256"));
        }
        Inventory::decode(&bytes)
            .map(Some)
            .map_err(|reason| self.corrupt(&head_name, reason.to_string()))
    }

    /// Replaces the stored inventory with `inventory`.
    pub(crate) async fn write(
        &self,
        owner: &Owner,
        inventory: &Inventory,
    ) -> Result<(), ApplyError> {
        let bytes = inventory.encode();
        let mut chunks = bytes.chunks(self.shard_bytes.max(1));
        let first = chunks.next().unwrap_or_default();
        let mut shard_names = Vec::new();
        for chunk in chunks {
            shard_names.push(self.write_shard(owner, chunk).await?);
        }
        let head_name = inventory_secret_name(owner);
        let head = self.secret(
            owner,
            &head_name,
            BTreeMap::from([
                (KEY_CHUNK.to_owned(), ByteString(first.to_vec())),
                (
                    KEY_SHARDS.to_owned(),
                    ByteString(shard_names.join("\n").into_bytes()),
                ),
                (
                    KEY_SHA256.to_owned(),
                    ByteString(hex::encode(Sha256::digest(&bytes)).into_bytes()),
                ),
            ]),
        );
        self.api
            .patch(
                &head_name,
                &PatchParams::apply(self.field_manager).force(),
                &Patch::Apply(&head),
            )
            .await
            .map_err(|e| self.store_error("writing", &head_name, e))?;
        let mut current: HashSet<String> = shard_names.into_iter().collect();
        current.insert(head_name);
        self.delete_stale_shards(owner, &current).await
    }

    /// Creates the shard for `chunk` unless it exists (same name, same content).
    async fn write_shard(&self, owner: &Owner, chunk: &[u8]) -> Result<String, ApplyError> {
        let hash = hex::encode(Sha256::digest(chunk));
        let name = format!("{}-{}", inventory_secret_name(owner), &hash[..16]);
        let mut shard = self.secret(
            owner,
            &name,
            BTreeMap::from([(KEY_CHUNK.to_owned(), ByteString(chunk.to_vec()))]),
        );
        shard.immutable = Some(true);
        match self.api.create(&PostParams::default(), &shard).await {
            Ok(_) => Ok(name),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(name),
            Err(e) => Err(self.store_error("creating", &name, e)),
        }
    }

    async fn delete_stale_shards(
        &self,
        owner: &Owner,
        keep: &HashSet<String>,
    ) -> Result<(), ApplyError> {
        let selector = format!("{INVENTORY_LABEL}={}", owner.name);
        let listed = self
            .api
            .list_metadata(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| self.store_error("listing", &selector, e))?;
        for meta in listed.items {
            let Some(name) = meta.metadata.name else {
                continue;
            };
            if keep.contains(&name) {
                continue;
            }
            match self.api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(self.store_error("deleting", &name, e)),
            }
        }
        Ok(())
    }

    fn secret(&self, owner: &Owner, name: &str, data: BTreeMap<String, ByteString>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(self.namespace.to_owned()),
                labels: Some(BTreeMap::from([(
                    INVENTORY_LABEL.to_owned(),
                    owner.name.clone(),
                )])),
                owner_references: Some(vec![owner.controller_reference()]),
                ..ObjectMeta::default()
            },
            type_: Some(INVENTORY_SECRET_TYPE.to_owned()),
            data: Some(data),
            ..Secret::default()
        }
    }
}

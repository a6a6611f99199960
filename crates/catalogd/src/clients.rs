//! How many responses streamed from disk one client (one IP address) may have at once.
//!
//! A client gets up to `max` such responses in flight; up to `max` more of its requests
//! wait for one of them to end, and a request beyond that is answered `429 Too Many
//! Requests` with `Retry-After`. Waiting rather than refusing at once means a client that
//! opens a few more connections than allowed is served a little later instead of failing;
//! the queue is bounded, so a client that opens hundreds costs a counter, not memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default of `--max-requests-per-client`.
pub(crate) const DEFAULT_MAX_PER_CLIENT: NonZeroUsize = NonZeroUsize::new(4).expect("non-zero");

/// The slots of every client with a response in flight or waiting; cloning shares them.
#[derive(Clone)]
pub(crate) struct ClientLimits {
    inner: Arc<Inner>,
}

struct Inner {
    max: NonZeroUsize,
    /// Only clients with a request in flight or waiting have an entry.
    clients: Mutex<HashMap<IpAddr, Slots>>,
}

struct Slots {
    permits: Arc<Semaphore>,
    /// Requests holding or waiting for a permit; the entry goes when this reaches zero.
    users: usize,
    waiting: usize,
}

/// The client already has `max` responses in flight and `max` requests waiting.
#[derive(Debug, thiserror::Error)]
#[error("{client} has {max} responses in flight and {max} more requests waiting")]
pub(crate) struct Busy {
    pub(crate) client: IpAddr,
    pub(crate) max: NonZeroUsize,
}

/// One of a client's slots, held until the response body is dropped.
pub(crate) struct ClientPermit {
    // Fields drop in order: the permit goes back before the entry may be removed.
    _permit: OwnedSemaphorePermit,
    _user: User,
}

/// Counts one request in its client's entry while it exists.
struct User {
    limits: Arc<Inner>,
    client: IpAddr,
    waiting: bool,
}

impl ClientLimits {
    pub(crate) fn new(max: NonZeroUsize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max,
                clients: Mutex::default(),
            }),
        }
    }

    /// A slot for `client`: at once if one is free, after waiting if the queue has room.
    pub(crate) async fn acquire(&self, client: IpAddr) -> Result<ClientPermit, Busy> {
        let max = self.inner.max;
        let (permits, mut user) = {
            let mut clients = self.inner.lock();
            let slots = clients.entry(client).or_insert_with(|| Slots {
                permits: Arc::new(Semaphore::new(max.get())),
                users: 0,
                waiting: 0,
            });
            let permit = slots.permits.clone().try_acquire_owned();
            if permit.is_err() && slots.waiting >= max.get() {
                return Err(Busy { client, max });
            }
            slots.users += 1;
            let user = User {
                limits: self.inner.clone(),
                client,
                waiting: permit.is_err(),
            };
            match permit {
                Ok(permit) => {
                    return Ok(ClientPermit {
                        _permit: permit,
                        _user: user,
                    });
                }
                Err(_) => {
                    slots.waiting += 1;
                    (slots.permits.clone(), user)
                }
            }
        };
        // Dropped while waiting (the client went away), `user` takes itself out again.
        let permit = permits
            .acquire_owned()
            .await
            .expect("client semaphores are never closed");
        user.stop_waiting();
        Ok(ClientPermit {
            _permit: permit,
            _user: user,
        })
    }

    /// Clients with an entry (for tests: entries must not outlive their requests).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.inner.lock().len()
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Slots>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl User {
    fn stop_waiting(&mut self) {
        if let Some(slots) = self.limits.lock().get_mut(&self.client) {
            slots.waiting -= 1;
        }
        self.waiting = false;
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let mut clients = self.limits.lock();
        let Some(slots) = clients.get_mut(&self.client) else {
            return;
        };
        slots.users -= 1;
        if self.waiting {
            slots.waiting -= 1;
        }
        if slots.users == 0 {
            clients.remove(&self.client);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use futures::FutureExt;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[tokio::test]
    async fn max_in_flight_then_max_waiting_then_busy() {
        let limits = ClientLimits::new(NonZeroUsize::new(2).unwrap());
        let first = limits.acquire(A).await.unwrap();
        let _second = limits.acquire(A).await.unwrap();
        // Two more wait: polled once, they are queued but not admitted.
        let mut third = Box::pin(limits.acquire(A));
        let mut fourth = Box::pin(limits.acquire(A));
        assert!((&mut third).now_or_never().is_none());
        assert!((&mut fourth).now_or_never().is_none());
        let busy = limits.acquire(A).await.err().expect("queue full");
        assert_eq!(busy.client, A);
        assert_eq!(
            busy.to_string(),
            "10.0.0.1 has 2 responses in flight and 2 more requests waiting"
        );
        // Another client is not affected.
        let _other = limits.acquire(B).await.unwrap();
        // A response ending admits a waiting request, which frees a place in the queue.
        drop(first);
        let _third = third.await.unwrap();
        let mut fifth = Box::pin(limits.acquire(A));
        assert!((&mut fifth).now_or_never().is_none(), "queued, not refused");
    }

    #[tokio::test]
    async fn entries_go_with_their_last_request_even_if_it_gave_up_waiting() {
        let limits = ClientLimits::new(NonZeroUsize::new(1).unwrap());
        let held = limits.acquire(A).await.unwrap();
        let mut waiting = Box::pin(limits.acquire(A));
        assert!((&mut waiting).now_or_never().is_none());
        drop(waiting);
        // The abandoned wait left the queue: another request may wait again.
        let mut again = Box::pin(limits.acquire(A));
        assert!((&mut again).now_or_never().is_none());
        drop(again);
        drop(held);
        assert_eq!(limits.tracked(), 0);
        let _b = limits.acquire(B).await.unwrap();
        assert_eq!(limits.tracked(), 1);
    }
}

//! bundle-sources' integration tests, one module per source, against real servers.

mod git;

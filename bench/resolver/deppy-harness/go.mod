module olm-rs/bench/resolver/deppy-harness

go 1.21

require (
	github.com/Masterminds/semver/v3 v3.2.1
	github.com/blang/semver/v4 v4.0.0
	github.com/operator-framework/deppy v0.1.0
)

require github.com/go-air/gini v1.0.4 // indirect

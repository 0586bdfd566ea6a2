// The git commit the binary was built from. The repository keeps "unknown"; image builds
// stamp it (Dockerfile: `--build-arg GIT_COMMIT=$(git rev-parse --short HEAD)`).
let buildCommit = "unknown"

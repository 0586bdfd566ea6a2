// The probes server, metrics registry, log handler and safe output live in ServiceSupport,
// shared with node-ipam-agent; re-exported so the controller's files (and its tests) see them
// as before.
@_exported import ServiceSupport

import KubeClient

extension Resource {
    /// The ClusterCIDR API's REST path (cluster-scoped), for the controller, the demo and tests.
    public static let clusterCIDRs = Resource(group: ClusterCIDR.group, version: ClusterCIDR.version, plural: ClusterCIDR.plural,
                                              kind: ClusterCIDR.kind, namespaced: false)
}

/// The Kubernetes client (libcurl transport, kubeconfig, informers, leader election) is
/// delivered by the KubeClient issue; this module currently holds the API models that
/// ClusterCIDRAPI and LocalAPIServer share.
public enum KubeClientModule {}

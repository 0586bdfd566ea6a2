/// ClusterCIDR API types, validation and conversion to MultiCIDR pools.
public enum ClusterCIDRAPIModule {}

/// The in-memory API server; built by the LocalAPIServer issue.
public enum LocalAPIServerModule {}

# Sourced by hack/test.sh and hack/demo.sh: installs the Debian packages the Swift build
# needs (libcurl with pkg-config) when they are missing. Runs as root on fresh machines.
install_build_prerequisites() {
  local need_apt=() pkg
  for pkg in libcurl4-openssl-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
  done
  if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "==> installing Debian packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  fi
}

# Sourced by hack/cni-test.sh and hack/demo-pods.sh: Debian's CNI plugins (bridge, host-local),
# iproute2 and ping, installed when missing and root; without root the caller's network-namespace
# parts skip.
install_cni_test_packages() {
  local need_apt=() pkg
  for pkg in containernetworking-plugins iproute2 iputils-ping; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
  done
  if [ "${#need_apt[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
      echo "==> installing Debian packages: ${need_apt[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
      echo "NOTE: not root: cannot install ${need_apt[*]}; the tests that need them will skip"
    fi
  fi
}

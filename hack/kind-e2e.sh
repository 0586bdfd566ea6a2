#!/usr/bin/env bash
# End to end on a real cluster, for machines with docker, kind, kubectl and helm (CI has
# none of them; hack/chart-checks tests the chart offline instead):
#   1. create a dual-stack kind cluster whose kube-controller-manager does not allocate
#      podCIDRs (hack/kind-cfg.yaml),
#   2. build the image as node-ipam-controller:local and load it into the cluster's nodes,
#   3. install the chart with that image,
#   4. apply the example ClusterCIDR(s),
#   5. wait until every node has podCIDRs and print them.
# Environment: CLUSTER (default node-ipam), EXAMPLES (files to apply, default the
# dual-stack example, whose catch-all pool serves every node; `EXAMPLES=examples/` applies
# every example pool, each under its own name), TIMEOUT seconds (300),
# DELETE=1 to delete the cluster at the end (kept by default, to look around).
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${CLUSTER:-node-ipam}
EXAMPLES=${EXAMPLES:-examples/clustercidr-dual.yaml}
TIMEOUT=${TIMEOUT:-300}
IMAGE=node-ipam-controller:local
NAMESPACE=kube-system

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done

if kind get clusters | grep -qx "$CLUSTER"; then
  echo "==> reusing kind cluster $CLUSTER"
else
  echo "==> creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --config hack/kind-cfg.yaml --wait 0s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

echo "==> building $IMAGE"
docker build --build-arg GIT_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" -t "$IMAGE" .

echo "==> loading $IMAGE into the nodes of $CLUSTER"
kind load docker-image "$IMAGE" --name "$CLUSTER"

echo "==> installing the chart"
# Nodes are NotReady until they have podCIDRs; the chart tolerates that and runs on the
# host network, so --wait only needs the controller's own pod to become ready.
helm upgrade --install node-ipam-controller charts/node-ipam-controller \
  --namespace "$NAMESPACE" \
  --set image.tag=local \
  --wait --timeout "${TIMEOUT}s"

echo "==> applying $EXAMPLES"
for f in $EXAMPLES; do kubectl apply -f "$f"; done

echo "==> waiting (up to ${TIMEOUT}s) until every node has podCIDRs"
deadline=$((SECONDS + TIMEOUT))
while :; do
  allocated=$(kubectl get nodes -o jsonpath='{range .items[?(@.spec.podCIDRs)]}{.metadata.name}{"\n"}{end}' | wc -l)
  total=$(kubectl get nodes --no-headers | wc -l)
  if [ "$total" -gt 0 ] && [ "$allocated" -eq "$total" ]; then break; fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "error: only $allocated of $total nodes have podCIDRs after ${TIMEOUT}s" >&2
    kubectl -n "$NAMESPACE" logs deploy/node-ipam-controller --tail=50 >&2 || true
    kubectl get events -A --field-selector type=Warning >&2 || true
    exit 1
  fi
  sleep 2
done

kubectl get nodes -o custom-columns='NODE:.metadata.name,PODCIDRS:.spec.podCIDRs'
kubectl get clustercidrs
kubectl wait --for=condition=Ready nodes --all --timeout="${TIMEOUT}s"

if [ "${DELETE:-0}" = 1 ]; then
  kind delete cluster --name "$CLUSTER"
fi

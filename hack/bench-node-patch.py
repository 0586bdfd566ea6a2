#!/usr/bin/env python3
"""Measures LocalAPIServer's node PATCH rate on loopback (a driver, not a test).

Usage: start `local-apiserver --port 18080` (release build for real numbers), then
  python3 hack/bench-node-patch.py --url http://127.0.0.1:18080 --nodes 5000 --seconds 10 --clients 2
Creates N nodes, then each client process sends merge-patches (a label change) to nodes round-robin
over one keep-alive connection and counts 200 responses.
"""
import argparse, http.client, json, multiprocessing, time, urllib.parse


def connect(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port)


def create(url, start, count):
    c = connect(url)
    for i in range(start, start + count):
        body = json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"bench-{i}"}})
        c.request("POST", "/api/v1/nodes", body, {"Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        if r.status not in (201, 409):
            raise SystemExit(f"create bench-{i}: {r.status}")


def patcher(url, nodes, seconds, offset, out):
    c = connect(url)
    done, i = 0, offset
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = json.dumps({"metadata": {"labels": {"bench": str(i)}}})
        c.request("PATCH", f"/api/v1/nodes/bench-{i % nodes}", body, {"Content-Type": "application/merge-patch+json"})
        r = c.getresponse(); r.read()
        if r.status == 200:
            done += 1
        i += 7
    out.put(done)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:18080")
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--clients", type=int, default=2)
    a = p.parse_args()
    t0 = time.monotonic()
    create(a.url, 0, a.nodes)
    print(f"created {a.nodes} nodes in {time.monotonic() - t0:.1f}s")
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=patcher, args=(a.url, a.nodes, a.seconds, k, q)) for k in range(a.clients)]
    t1 = time.monotonic()
    for pr in procs: pr.start()
    total = sum(q.get() for _ in procs)
    for pr in procs: pr.join()
    elapsed = time.monotonic() - t1
    print(f"{total} node PATCHes in {elapsed:.1f}s = {total / elapsed:.0f}/s with {a.clients} clients over {a.nodes} nodes")


if __name__ == "__main__":
    main()

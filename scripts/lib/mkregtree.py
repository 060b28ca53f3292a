#!/usr/bin/env python3
"""mkregtree.py - write a registry tree as docker-registry 2.8's filesystem
driver lays it out, without a registry, for scripts/bench.sh.

Usage: mkregtree.py --repos N --tags M [--images K] ROOT [ROOT...]

Every ROOT receives the same tree, ROOT/docker/registry/v2/:
  blobs/sha256/<xx>/<hex>/data          K images: a config and one gzip'd tar
                                        layer each, and the image's manifest
                                        (OCI and Docker schema 2 alternate)
  repositories/<name>/_layers/sha256/<hex>/link            config and layer
  repositories/<name>/_manifests/revisions/sha256/<hex>/link
  repositories/<name>/_manifests/tags/t<j>/current/link
  repositories/<name>/_manifests/tags/t<j>/index/sha256/<hex>/link
Repository names: locked/r<i> for even i, open/r<i> for odd i (bench.sh's
policy makes locked/** immutable, so half the tree is protected). Tag t<j>
of repository i names image (i + j) % K: a few manifests shared by all.

Prints one line per repository and tag on stdout, "<name> <tag> <digest>",
the expected answer of GET /v2/<name>/manifests/<tag> for regload.py.
Deterministic: the same sizes give the same bytes.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(k):
    """A one-file tar of 4 KiB of bytes that depend on k, and its gzip."""
    payload = b"".join(hashlib.sha256(b"%d/%d" % (k, i)).digest()
                       for i in range(128))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("bench/layer%d.bin" % k)
        info.size, info.mode, info.mtime = len(payload), 0o644, 0
        tar.addfile(info, io.BytesIO(payload))
    raw = buf.getvalue()
    return raw, gzip.compress(raw, compresslevel=1, mtime=0)


def image(k):
    """(manifest bytes, media type, [blob bytes]) of image k."""
    oci = k % 2 == 0
    raw, gz = layer_tar(k)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"bench.image": str(k)}},
        "rootfs": {"type": "layers", "diff_ids": [digest(raw)]},
    }, sort_keys=True).encode()
    mtype = OCI_MANIFEST if oci else DOCKER_MANIFEST
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mtype,
        "config": {"mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER if oci else DOCKER_LAYER,
                    "digest": digest(gz), "size": len(gz)}],
    }, indent=3).encode()
    return manifest, [config, gz]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def link(path, dig):
    write(path + "/link", dig.encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repos", type=int, required=True)
    ap.add_argument("--tags", type=int, required=True)
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("roots", nargs="+")
    a = ap.parse_args()
    if a.repos < 1 or a.tags < 1 or a.images < 1:
        sys.exit("mkregtree.py: --repos, --tags and --images want positive numbers")

    images = [image(k) for k in range(a.images)]
    out = sys.stdout
    for root in a.roots:
        v2 = os.path.join(root, "docker/registry/v2")
        for manifest, blobs in images:
            for data in [manifest] + blobs:
                hexd = digest(data)[7:]
                write("%s/blobs/sha256/%s/%s/data" % (v2, hexd[:2], hexd), data)
        for i in range(a.repos):
            name = "%s/r%03d" % ("locked" if i % 2 == 0 else "open", i)
            repo = "%s/repositories/%s" % (v2, name)
            used = sorted({(i + j) % a.images for j in range(a.tags)})
            for k in used:
                manifest, blobs = images[k]
                md = digest(manifest)
                link("%s/_manifests/revisions/sha256/%s" % (repo, md[7:]), md)
                for data in blobs:
                    d = digest(data)
                    link("%s/_layers/sha256/%s" % (repo, d[7:]), d)
            for j in range(a.tags):
                md = digest(images[(i + j) % a.images][0])
                tag = "%s/_manifests/tags/t%d" % (repo, j)
                link(tag + "/current", md)
                link("%s/index/sha256/%s" % (tag, md[7:]), md)
                if root == a.roots[0]:
                    out.write("%s t%d %s\n" % (name, j, md))


if __name__ == "__main__":
    main()

"""Connects to the Redis a URL names: redis:// (rediss://, unix://) as redis-py reads them, or
``redis+cluster://[user:pass@]host1:port1,host2:port2[/0]``, the worker's Redis Cluster form
(SPEC §2), as a ``redis.cluster.RedisCluster`` seeded with those nodes. Also says whether a Redis
object talks to a cluster."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple, Union
from urllib.parse import unquote

import redis as redis_lib
from redis.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEME = "redis+cluster://"


def parse_cluster(url: str) -> Tuple[List[Tuple[str, int]], Dict[str, Any]]:
    """The ``(host, port)`` nodes and the ``username``/``password`` options of a
    redis+cluster:// URL; ValueError for anything else."""
    rest = url[len(CLUSTER_SCHEME):] if url.startswith(CLUSTER_SCHEME) else None
    if rest is None:
        raise ValueError(f"not a {CLUSTER_SCHEME} URL")
    userinfo, _, rest = rest.rpartition("@")
    hosts, slash, path = rest.partition("/")
    if slash and path not in ("", "0"):
        raise ValueError(f"a Redis Cluster has only database 0, got /{path} in a {CLUSTER_SCHEME} URL")
    nodes = []
    for hp in hosts.split(",") if hosts else []:
        host, _, port = hp.partition(":")
        if not host or not port.isdigit() or len(port) > 5:
            raise ValueError(f"{CLUSTER_SCHEME} wants host:port pairs separated by commas, got {hp!r}")
        nodes.append((host, int(port)))
    if not nodes:
        raise ValueError(f"a {CLUSTER_SCHEME} URL names no node")
    opts: Dict[str, Any] = {}
    if userinfo:
        user, _, password = userinfo.partition(":")
        if user:
            opts["username"] = unquote(user)
        if password:
            opts["password"] = unquote(password)
    return nodes, opts


def connect(url: str) -> Union["redis_lib.Redis", RedisCluster]:
    if not url.startswith(CLUSTER_SCHEME):
        return redis_lib.Redis.from_url(url)
    nodes, opts = parse_cluster(url)
    return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in nodes], **opts)


def is_cluster(r: Any) -> bool:
    return isinstance(r, RedisCluster)

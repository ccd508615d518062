"""One upstream's live state: endpoints, balancing, outlier detection, pools, metrics.

The control plane replaces the endpoint set as a whole (:meth:`Cluster.set_endpoints`);
pools of endpoints that left are closed (in-flight exchanges finish), the outlier
history of endpoints that stay is kept. :meth:`Cluster.reconfigure` swaps policies
live; connection settings (timeouts, TLS) apply to connections opened afterwards.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable

from portside.proxy.balancer import candidates, make_policy
from portside.proxy.config import Endpoint, Health, UpstreamConfig
from portside.proxy.metrics import Metrics, Stats
from portside.proxy.outlier import OutlierDetector
from portside.proxy.pool import Pool
from portside.proxy.types import NoHealthyUpstream


class Cluster:
    def __init__(
        self,
        config: UpstreamConfig,
        metrics: Metrics,
        clock: Callable[[], float],
        *,
        tls: ssl.SSLContext | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.metrics = metrics
        self.stats = metrics.service(config.name)
        self.clock = clock
        self.tls = tls
        self._rng = rng or random.Random(config.name)
        self.policy = make_policy(config.balancing, self._rng)
        self.detector = OutlierDetector(config.outlier)
        self.endpoints: tuple[Endpoint, ...] = ()
        self._all_healthy = True
        self.active: dict[str, int] = {}
        self._pools: dict[str, Pool] = {}
        self._endpoint_stats: dict[str, Stats] = {}

    @property
    def rng(self) -> random.Random:
        return self._rng

    # --- control --------------------------------------------------------------------
    def set_endpoints(self, endpoints: tuple[Endpoint, ...]) -> None:
        keys = {e.key for e in endpoints}
        for key in list(self._pools):
            if key not in keys:
                self._pools.pop(key).close()
        for e in endpoints:  # an endpoint whose health changed keeps its pool
            pool = self._pools.get(e.key)
            if pool is not None:
                pool.endpoint = e
        self.detector.retain(keys)
        self.endpoints = tuple(endpoints)
        self._all_healthy = all(e.health is not Health.UNHEALTHY for e in endpoints)

    def reconfigure(self, config: UpstreamConfig, tls: ssl.SSLContext | None) -> None:
        old, self.config = self.config, config
        if config.balancing is not old.balancing:
            self.policy = make_policy(config.balancing, self._rng)
        self.detector.reconfigure(config.outlier)
        if config.timeouts != old.timeouts or config.tls != old.tls or tls is not self.tls:
            self.tls = tls
            self.close()

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    # --- data path ------------------------------------------------------------------
    def pick(self, tried: set[str]) -> Endpoint:
        if not self.endpoints:
            raise NoHealthyUpstream()
        now = self.clock()
        ejecting = self.detector.any_ejected(now)
        if not tried and self._all_healthy and not ejecting:
            return self.policy.choose(self.endpoints, self.active)  # the common case, no filtering
        ejected = self.detector.ejected(now) if ejecting else ()
        return self.policy.choose(candidates(self.endpoints, ejected, tried), self.active)

    def pool(self, endpoint: Endpoint) -> Pool:
        pool = self._pools.get(endpoint.key)
        if pool is None:
            timeouts = self.config.timeouts
            tls = self.config.tls
            pool = self._pools[endpoint.key] = Pool(
                endpoint,
                self.endpoint_stats(endpoint.key),
                idle_seconds=timeouts.idle_seconds,
                connect_seconds=timeouts.connect_seconds,
                tls=self.tls,
                server_name=(tls.server_name or self.name) if tls is not None else None,
            )
        return pool

    def endpoint_stats(self, key: str) -> Stats:
        stats = self._endpoint_stats.get(key)
        if stats is None:
            stats = self._endpoint_stats[key] = self.metrics.endpoint(self.name, key)
        return stats

    def succeeded(self, key: str) -> None:
        self.detector.success(key, self.clock())

    def failed(self, key: str) -> None:
        self.detector.failure(key, self.clock(), len(self.endpoints))

    def publish_ejections(self) -> None:
        now = self.clock()
        for e in self.endpoints:
            self.metrics.ejected[(self.name, e.key)] = int(self.detector.is_ejected(e.key, now))
            self.metrics.ejections[(self.name, e.key)] = self.detector.ejections.get(e.key, 0)

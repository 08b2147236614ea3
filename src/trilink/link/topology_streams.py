"""The JetStream streams of the live topology, created at run time (API objects, not config).

Per nation ``N``: ``N_OUTBOX`` and ``N_INBOX`` on N's leaf, ``HUB_TO_N`` (in N's account)
and ``HUB_FROM_N`` (in ``HUB``) on the hub; the table and the account plumbing the
cross-account sources need are in :mod:`trilink.link.topology`. :func:`provision`
creates them all, idempotently; nats-py is imported only when a function here runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trilink.errors import DeployError
from trilink.link.topology_layout import (
    HUB_DOMAIN,
    SF_PREFIX,
    Topology,
    domain_of,
    hub_from_stream,
    hub_to_stream,
    inbox_stream,
    node_subjects,
    outbox_stream,
)


def stream_configs(topo: Topology, n: str) -> dict[str, Any]:
    """The four stream configurations of nation ``n`` (nats-py ``StreamConfig``), by name."""
    from nats.js.api import DiscardPolicy, ExternalStream, StorageType, StreamConfig, StreamSource

    def cfg(name: str, **kw: Any) -> StreamConfig:
        return StreamConfig(
            name=name,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_bytes=topo.stream_max_bytes,
            max_age=topo.stream_max_age_s,
            **kw,
        )

    d = domain_of(n)
    return {
        outbox_stream(n): cfg(outbox_stream(n), subjects=node_subjects(n)),
        inbox_stream(n): cfg(
            inbox_stream(n),
            sources=[
                StreamSource(
                    name=hub_to_stream(n),
                    external=ExternalStream(api=f"$JS.{HUB_DOMAIN}.API"),
                )
            ],
        ),
        hub_to_stream(n): cfg(hub_to_stream(n), subjects=[f"trilink.hub.out.{n}.>"]),
        hub_from_stream(n): cfg(
            hub_from_stream(n),
            sources=[
                StreamSource(
                    name=outbox_stream(n),
                    external=ExternalStream(api=f"$JS.{d}.API", deliver=f"{SF_PREFIX}.{n}"),
                )
            ],
        ),
    }


async def _ensure(js: Any, config: Any, where: str) -> None:
    """Create a stream, or bring an existing one to ``config``; DeployError if neither."""
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.errors import BadRequestError, NotFoundError

    try:
        await js.add_stream(config)
    except BadRequestError as e:
        # 10058: "stream name already in use with a different configuration".
        if getattr(e, "err_code", None) != 10058:
            raise DeployError(f"{where}/{config.name}", f"cannot create: {e}") from None
        try:
            await js.update_stream(config)
        except (BadRequestError, NotFoundError) as e2:
            raise DeployError(f"{where}/{config.name}", f"cannot update: {e2}") from None
    except (NatsTimeout, TimeoutError):
        raise DeployError(
            f"{where}/{config.name}", "JetStream did not answer (server or link down?)"
        ) from None


async def provision_leaf(topo: Topology, n: str, leaf: Any, *, timeout_s: float = 5.0) -> None:
    """Create nation ``n``'s streams from a connection to its leaf (node certificate).

    ``N_OUTBOX`` and ``N_INBOX`` on the leaf first, so reports are kept even while the hub
    is unreachable; then ``HUB_TO_N`` in n's account on the hub (through the leaf, JetStream
    domain ``hub``), which raises DeployError if the hub cannot be reached (retry later:
    every step is idempotent).
    """
    cfgs = stream_configs(topo, n)
    local = leaf.jetstream(timeout=timeout_s)
    await _ensure(local, cfgs[outbox_stream(n)], domain_of(n))
    remote = leaf.jetstream(domain=HUB_DOMAIN, timeout=timeout_s)
    failure: DeployError | None = None
    try:
        # The origin before the stream that sources it: a source whose origin is missing
        # is retried only every few seconds by the server.
        await _ensure(remote, cfgs[hub_to_stream(n)], f"{HUB_DOMAIN}/{n}")
    except DeployError as e:
        failure = e
    await _ensure(local, cfgs[inbox_stream(n)], domain_of(n))
    if failure is not None:
        raise failure


async def provision_hub(topo: Topology, hub: Any, *, timeout_s: float = 5.0) -> None:
    """Create the ``HUB_FROM_N`` streams from the hub process's connection (account HUB).

    A source whose leaf is down is created anyway; the hub retries it on its own.
    """
    js = hub.jetstream(timeout=timeout_s)
    for n in topo.nations:
        await _ensure(js, stream_configs(topo, n)[hub_from_stream(n)], HUB_DOMAIN)


async def provision(
    topo: Topology, hub: Any, leaves: Mapping[str, Any], *, timeout_s: float = 5.0
) -> None:
    """Create every stream of the topology: ``hub`` is a nats-py connection to the hub as
    the hub process, ``leaves[N]`` one to N's leaf as N's node. Idempotent."""
    missing = [n for n in topo.nations if n not in leaves]
    if missing:
        raise DeployError(missing[0], "no leaf connection given for this nation")
    for n in topo.nations:
        await provision_leaf(topo, n, leaves[n], timeout_s=timeout_s)
    await provision_hub(topo, hub, timeout_s=timeout_s)

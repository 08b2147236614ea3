"""The live common operational picture (COP): one web page per partner.

Each partner's page shows what the hub released to that partner, and nothing else: a map
(offline Natural Earth basemap, the partner's territory and 200-nm zone), tracks with
trails and 1-sigma uncertainty, launch points, impact ellipses (95 %), the predicted path,
a warning banner with a countdown to impact and a timeline with latencies. Updates
travel over a WebSocket; the page reconnects by itself and resynchronises.

- :class:`BusFeed` builds the pictures from a bus (in-memory or NATS), :class:`ReplayFeed`
  from a recorded run; both are :class:`PictureFeed`s.
- :func:`create_app` is the starlette app; :class:`WebServer` runs it with uvicorn;
  :func:`serve_bus` is what ``trilink run SCENARIO --web`` calls.
"""

from trilink.web.feed import BusFeed, PictureFeed, Watch
from trilink.web.picture import PartnerPicture
from trilink.web.replay import ReplayFeed
from trilink.web.run import WebServer, serve_bus
from trilink.web.server import Connections, create_app

__all__ = [
    "BusFeed",
    "Connections",
    "PartnerPicture",
    "PictureFeed",
    "ReplayFeed",
    "Watch",
    "WebServer",
    "create_app",
    "serve_bus",
]

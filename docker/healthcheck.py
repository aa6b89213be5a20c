"""The image's HEALTHCHECK: exit 0 when ``/health/ready`` answers 200 on this container's ``XLT_PORT``, else 1.

Why a script and not curl: the slim image has no curl, and the standard library is enough. Why ready and not
live: a container that is loading its engines or draining should not receive traffic from a load balancer
that follows Docker's health status. It asks 127.0.0.1, whatever address the server binds.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    port = os.environ.get("XLT_PORT", "8000")
    url = f"http://127.0.0.1:{port}/health/ready"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

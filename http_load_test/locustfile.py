"""Locust load test for the movie catalog behind an Alba load balancer.

Each simulated user does what the catalog's web frontend does per page view:
eight GET /discover calls (a random movie banner, random TV shows, then one
row per genre), in order, with no pause between page views, plus an
occasional GET /status, the health endpoint. Every response is checked: 200
and a JSON list for /discover, 200 and "OK" for /status.

Install locust (Debian):

    apt-get install python3-locust

Run it with the web UI (open http://localhost:8089, then start a swarm):

    locust -f http_load_test/locustfile.py --host http://127.0.0.1:8080

Run it headless, 10 users spawned at 5 per second, for 30 seconds:

    locust -f http_load_test/locustfile.py --host http://127.0.0.1:8080 --headless -u 10 -r 5 -t 30s

--host is the load balancer's listener (or a single `alba catalog`). Only
point it at a service you run yourself.
"""

from locust import HttpUser, constant, task

# What the frontend requests per page view: (path, name in the statistics).
# Genre rows share one name per type so the statistics group sensibly.
PAGE_VIEW = [
    ("/discover?type=movie", "/discover?type=movie"),  # random banner
    ("/discover?type=tv", "/discover?type=tv"),
    ("/discover?type=movie&genre=35", "/discover?type=movie&genre=[genre]"),  # comedy
    ("/discover?type=movie&genre=28", "/discover?type=movie&genre=[genre]"),  # action
    ("/discover?type=movie&genre=9648", "/discover?type=movie&genre=[genre]"),  # mystery
    ("/discover?type=movie&genre=18", "/discover?type=movie&genre=[genre]"),  # drama
    ("/discover?type=tv&genre=10765", "/discover?type=tv&genre=[genre]"),  # sci-fi & fantasy
    ("/discover?type=tv&genre=16", "/discover?type=tv&genre=[genre]"),  # animation
]


def check_json_list(response):
    """Marks a /discover response failed unless it is 200 with a JSON list."""
    if response.status_code != 200:
        response.failure(f"status {response.status_code}, want 200")
        return
    try:
        body = response.json()
    except ValueError as err:  # requests' JSONDecodeError is a ValueError
        response.failure(f"body is not JSON: {err}")
        return
    if not isinstance(body, list):
        response.failure(f"body is a JSON {type(body).__name__}, want a list")
        return
    response.success()


def check_ok(response):
    """Marks a /status response failed unless it is 200 with body OK."""
    if response.status_code != 200:
        response.failure(f"status {response.status_code}, want 200")
        return
    if response.text.strip() != "OK":
        response.failure(f"body {response.text[:40]!r}, want 'OK'")
        return
    response.success()


class MovieCatalogUser(HttpUser):
    """One browser loading catalog pages back to back."""

    # No think time, as the course's load test: each user loads pages as
    # fast as the load balancer answers.
    wait_time = constant(0)
    # Used when --host is not given.
    host = "http://127.0.0.1:8080"

    @task(10)
    def page_view(self):
        for path, name in PAGE_VIEW:
            with self.client.get(path, name=name, catch_response=True) as response:
                check_json_list(response)

    @task(1)
    def status(self):
        with self.client.get("/status", name="/status", catch_response=True) as response:
            check_ok(response)

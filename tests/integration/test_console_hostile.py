"""The console under hostile input (the in-process app, real stores): a 4xx page, never a
500, for a non-ASCII session cookie, a non-ASCII CSRF field, and dates at the calendar's end."""

import asyncio

from tests.integration.rollout_app import client, settings_for


def test_hostile_console_input_is_refused_cleanly(data_dir, simulators_url):
    settings = settings_for(data_dir, simulators_url)

    async def scenario():
        async with client(settings) as (c, _):
            c.headers.pop("Authorization")
            cookie = await c.get("/console/decisions",
                                 headers={"Cookie": b"console_session=e30=.\xe9"})
            from app.api_keys import SCOPES, ApiKeyStore

            key = ApiKeyStore(settings.api_keys_path).create("console", list(SCOPES))
            login = await c.post("/console/login", data={"api_key": key})
            session = login.cookies.get("console_session") or c.cookies.get("console_session")
            c.cookies.set("console_session", session, path="/console")
            far = await c.get("/console/decisions", params={"until": "9999-12-31",
                                                            "since": "0001-01-01"})
            csrf = await c.post("/console/rollout/flags", data={
                "country": "ES", "mode": "legacy", "reason": "hostile", "csrf": "é\u2603"})
            return cookie, login, far, csrf

    cookie, login, far, csrf = asyncio.run(scenario())
    assert cookie.status_code in (302, 303, 307) and "/console/login" in cookie.headers["location"]
    assert login.status_code == 303
    assert far.status_code == 200
    assert csrf.status_code == 403 and "security token" in csrf.text

"""Simulators of the platform's external counterparts (DESIGN.md §2), each a small HTTP server.

Each speaks HTTP as the real counterpart would, keeps its own store, and is started by `tongban
demo` (as a subprocess) and by the tests (in a thread). The platform reaches them only through its
client interfaces, configured by URL, so nothing in it knows it is talking to a simulator.

    tongban sim sms --port 8025           # the SMS gateway (sim.sms_gateway)

The national government-service platform (sim.national_platform) and the demo's relying parties
(sim.demo_rp) are started together by `tongban demo` through sim.demo_sso, and by the tests in threads.

`tongban sim` knows them by name (tongban/notifications/management/commands/sim.py, SIMULATORS).
"""

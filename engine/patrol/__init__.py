"""Red-armband volunteer patrol, the pure core: no Ray, no I/O, time comes in as arguments.

- ``geo`` — distances on the earth (haversine, flat-earth) and a local flat projection in meters.
- ``gps_filter`` — which fixes of a track are kept, with a counted reason for every one discarded.
- ``track`` — the kept fixes as a bounded, Douglas–Peucker-simplified polyline, and the distance walked.
- ``clock`` — the valid patrol duration: moving or on a beat counts, a long stop pauses, silence suspends.
- ``patrol`` — one volunteer's patrol (filter + track + clock) and the per-volunteer totals.

The unit tracker and nearest-unit dispatch (``units``, ``nearest``, ``offers``) live here too.
"""

"""The unmanned police station's kiosk hall, pure parts (no host, no journal): the service catalogue
(``catalogue.py``), bookings made by phone (``bookings.py``), the day figures (``figures.py``) and the consumables'
thresholds (``supplies.py``). ``engine/hosting/kiosk_domain.py`` joins them to a host."""

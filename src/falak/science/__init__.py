"""Science products from archived instrument data (issue 17).

Each pipeline is a library function over arrays (no archive, server or CLI imports); the
``falak science`` commands read the archive and call them. Every product is written with a
PDS4 label by :mod:`falak.science.pds4`.

- :mod:`falak.science.pds4`: PDS4 products (CSV tables, binary arrays) and their XML labels.
- :mod:`falak.science.radiation`: dose rates (silicon, water), ICRP 60 dose equivalent,
  cumulative dose, solar particle events, orbit-averaged dose and South Atlantic Anomaly passes.
"""

"""The request path's hand-written C (the rest of the compiled build is mypyc's, setup.py): here
only ``_headscan`` (headscan.c), one whole plain request head read in one call. A folder of its own
so that these are no modules of the mypyc group, which proxy/build.py finds in proxy/ itself."""

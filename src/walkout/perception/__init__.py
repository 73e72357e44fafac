"""Perception: camera footage in, ``poses.csv`` and ``vision.csv`` rows out.

Its heavy dependencies come with the ``perception`` extra
(``pip install 'walkout[perception]'``); nothing else in walkout imports them.
"""

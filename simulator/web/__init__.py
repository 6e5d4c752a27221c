"""The web page: ``simulate serve`` starts a local web application that does
what the command line does, on the same planning functions, for people who
will not write YAML: a scenario shown as a form, the answer with its figure
and paragraph, the downloads, and a comparison of designs.  It needs the
optional ``web`` extra (Starlette, uvicorn, Jinja2, python-multipart);
nothing else in the package imports it, so ``simulate`` works without them."""

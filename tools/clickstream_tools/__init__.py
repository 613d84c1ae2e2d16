"""Tools around the clickstream product: the sample generator, the demo, the benchmark and the
builder of the JVM class archive. Installed by ``make install`` (editable, from ``tools/``); never
part of the wheel or zip that Glue and EMR install."""

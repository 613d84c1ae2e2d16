"""Where a job runs: AWS Glue (glue.py), or EMR and local (entry.py); jobs/<job>.py call run_entry.

`run_entry` tells the runtimes apart by their arguments: Glue always passes --JOB_NAME; an EMR
step or a local run passes --env and --set KEY=VALUE. awsglue is imported by glue.py only,
inside its functions, so EMR and local runs never need it.
"""

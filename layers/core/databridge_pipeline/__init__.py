"""databridge-pipeline core: table configs, schedules, Batch steps and the run state machine.

Pure code over pydantic models; everything that talks to AWS or Slack lives in ``adapters``.
"""

"""Process models: the reload supervisor (`dev`) and the multi-worker master (`serve`)."""

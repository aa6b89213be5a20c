"""Cross-request batching: a bounded queue, one batcher task per engine, the executor bridge."""

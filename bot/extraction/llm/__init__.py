"""The model tier: an OpenAI-compatible endpoint as a second extractor (`EXTRACTOR=llm`) or
beside the rules (`EXTRACTOR=hybrid`), grounded, cached, budgeted, with the rules as fallback.

client.py     the Chat Completions client: concurrency, 429 / 5xx / timeout handling
prompt.py     system prompt, the article as delimited data, the schema from the vocabulary
grounding.py  answer validation (pydantic), vocabulary, verbatim evidence, sentence, mentions
extractor.py  LLMExtractor: cache and token counts in the store, budget, fallback and queue
hybrid.py     HybridExtractor: rules and model merged, each position marked with its finder
"""

"""Pure translation between tokenhub's canonical types and the providers' wire formats.

``wire.openai`` speaks OpenAI Chat Completions (also vLLM), ``wire.anthropic`` speaks
Anthropic Messages. Each offers ``parse_request``/``render_request``,
``parse_response``/``render_response``, a ``StreamDecoder``/``StreamEncoder`` pair and
``render_error`` (answers live in ``*_response``, requests in ``*_request``, streams in
``*_stream``). What one format cannot carry of the other's is named in ``FieldNote``s, for
``X-Tokenhub-Warnings``. Nothing here does I/O; bodies are plain ``dict`` JSON values.
"""

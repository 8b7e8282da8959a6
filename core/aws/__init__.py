"""Amazon Bedrock groundwork: sessions and the one client factory, credentials, error sentences, backoff, names."""

namespace AutoMirror.Core.Configuration;

/// <summary>
/// An environment variable is missing or malformed. The message names the variable; the type name is the error
/// name a state machine sees (it Fails on it rather than retrying: a redeploy is the only fix).
/// </summary>
public sealed class ConfigurationException(string message) : Exception(message);

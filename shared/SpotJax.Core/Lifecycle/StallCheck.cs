namespace SpotJax.Core.Lifecycle;

public enum StallCheck
{
    None,
    Warn,
    Restart,
}

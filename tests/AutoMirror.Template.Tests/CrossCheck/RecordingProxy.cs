using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.ExceptionServices;
using AutoMirror.Aws.CloudWatch;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Aws.StepFunctions;

namespace AutoMirror.Template.Tests.CrossCheck;

/// <summary>
/// Wraps any AWS port and records the IAM action of every call that reaches it, then forwards the call. The action
/// is derived from the port and the method: each port method is one API operation named like the method
/// (<c>DescribeInstancesAsync</c> → <c>ec2:DescribeInstances</c>).
/// </summary>
public class RecordingProxy<T> : DispatchProxy
    where T : class
{
    private T _inner = null!;
    private ConcurrentBag<string> _calls = null!;

    public static T Wrap(T inner, ConcurrentBag<string> calls)
    {
        var proxy = Create<T, RecordingProxy<T>>();
        var self = (RecordingProxy<T>)(object)proxy;
        self._inner = inner;
        self._calls = calls;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        _calls.Add(AwsOperations.ActionOf(typeof(T), targetMethod));
        try
        {
            return targetMethod.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}

public static class AwsOperations
{
    /// <summary>The IAM service prefix of each port (the service's signing name).</summary>
    public static readonly IReadOnlyDictionary<Type, string> ServicePrefix = new Dictionary<Type, string>
    {
        [typeof(IEc2Client)] = "ec2",
        [typeof(ILoadBalancingClient)] = "elasticloadbalancing",
        [typeof(IStepFunctionsClient)] = "states",
        [typeof(ICloudWatchClient)] = "cloudwatch",
    };

    public static string ActionOf(Type port, MethodInfo method)
    {
        var name = method.Name.EndsWith("Async", StringComparison.Ordinal) ? method.Name[..^"Async".Length] : method.Name;
        return ServicePrefix[port] + ":" + name;
    }

    /// <summary>IAM actions an API call needs besides its own (Service Authorization Reference "dependent actions"):
    /// CreateTrafficMirrorSession with TagSpecifications is also authorized as ec2:CreateTags.</summary>
    public static IEnumerable<string> RequiredActions(string action) => action switch
    {
        "ec2:CreateTrafficMirrorSession" => [action, "ec2:CreateTags"],
        _ => [action],
    };

    /// <summary>Every action any port can call.</summary>
    public static IEnumerable<string> AllActions() =>
        ServicePrefix.Keys.SelectMany(port => port.GetMethods().Select(m => ActionOf(port, m))).Distinct();
}

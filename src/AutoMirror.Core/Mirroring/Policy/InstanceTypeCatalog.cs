using System.Collections.Concurrent;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Configuration;

namespace AutoMirror.Core.Mirroring;

/// <summary>
/// Instance type facts for one container's lifetime: DescribeInstanceTypes answers do not change while a function
/// is warm, and a refusal by AWS at create time overrides every list.
/// </summary>
public sealed class InstanceTypeCatalog(IEc2Client ec2, AutoMirrorSettings settings)
{
    // Tasks, so invocations running at once in one process share one DescribeInstanceTypes; a failed one is dropped.
    private readonly ConcurrentDictionary<string, Lazy<Task<InstanceTypeInfo?>>> _facts = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, bool> _refusedByAws = new(StringComparer.OrdinalIgnoreCase);

    public async Task<TypeVerdict> VerdictAsync(string instanceType, CancellationToken cancellationToken)
    {
        if (_refusedByAws.ContainsKey(instanceType))
        {
            return new TypeVerdict(TypeSupport.Unsupported, "refused-by-aws");
        }

        if (InstanceTypeSupport.Matches(settings.UnsupportedInstanceTypes, instanceType)
            || InstanceTypeSupport.Matches(settings.SupportedInstanceTypes, instanceType))
        {
            return InstanceTypeSupport.Evaluate(instanceType, null, settings.SupportedInstanceTypes, settings.UnsupportedInstanceTypes);
        }

        var read = _facts.GetOrAdd(instanceType, t => new Lazy<Task<InstanceTypeInfo?>>(() => DescribeAsync(t)));
        InstanceTypeInfo? info;
        try
        {
            info = await read.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (read.Value.IsFaulted || read.Value.IsCanceled)
        {
            _facts.TryRemove(new KeyValuePair<string, Lazy<Task<InstanceTypeInfo?>>>(instanceType, read));
            throw;
        }

        return InstanceTypeSupport.Evaluate(instanceType, info, settings.SupportedInstanceTypes, settings.UnsupportedInstanceTypes);
    }

    private async Task<InstanceTypeInfo?> DescribeAsync(string instanceType)
    {
        await Task.Yield();
        try
        {
            var answer = await ec2.DescribeInstanceTypesAsync([instanceType], CancellationToken.None).ConfigureAwait(false);
            return answer.FirstOrDefault(t => string.Equals(t.InstanceType, instanceType, StringComparison.OrdinalIgnoreCase));
        }
        catch (AwsServiceException e) when (e.ErrorCode == "InvalidInstanceType")
        {
            // A type this region does not describe: the family lists and the create's answer decide.
            return null;
        }
    }

    public void RecordRefusal(string instanceType) => _refusedByAws[instanceType] = true;
}

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
    private readonly ConcurrentDictionary<string, InstanceTypeInfo?> _facts = new(StringComparer.OrdinalIgnoreCase);
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

        if (!_facts.TryGetValue(instanceType, out var info))
        {
            try
            {
                var answer = await ec2.DescribeInstanceTypesAsync([instanceType], cancellationToken).ConfigureAwait(false);
                info = answer.FirstOrDefault(t => string.Equals(t.InstanceType, instanceType, StringComparison.OrdinalIgnoreCase));
            }
            catch (AwsServiceException e) when (e.ErrorCode == "InvalidInstanceType")
            {
                // A type this region does not describe: the family lists and the create's answer decide.
                info = null;
            }

            _facts[instanceType] = info;
        }

        return InstanceTypeSupport.Evaluate(instanceType, info, settings.SupportedInstanceTypes, settings.UnsupportedInstanceTypes);
    }

    public void RecordRefusal(string instanceType) => _refusedByAws[instanceType] = true;
}

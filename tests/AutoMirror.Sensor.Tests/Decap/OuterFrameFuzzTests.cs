using System.Buffers.Binary;
using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Decap;

public class OuterFrameFuzzTests
{
    private const int Frames = 200_000;

    /// <summary>
    /// Random frames and valid ones mutated (bytes flipped, truncated, extended, length fields and
    /// header bytes rewritten, checksums sometimes redone so the later checks are reached) through
    /// <see cref="OuterFrame.Parse"/>: it never throws, it accepts exactly the frames a plain
    /// re-statement of the kernel's rules accepts, and an accepted payload lies within the frame
    /// and the IP packet, starts after the headers and is as long as the UDP length says.
    /// </summary>
    [Fact]
    public void Parse_RandomAndMutatedFrames_NeverThrowsAndAcceptsExactlyTheValidOnes()
    {
        var random = new Random(20261122);
        byte[][] seeds =
        [
            OuterFrameTests.Frame(Packets.Ipv4("10.1.2.3", "10.9.8.7", 17, Packets.Udp(40000, 4789, Packets.Vxlan(1, Packets.SampleFrame())))),
            OuterFrameTests.Frame(Packets.Ipv4("10.1.2.3", "10.9.8.7", 17, OuterFrameTests.ChecksummedUdp("10.1.2.3", "10.9.8.7", Packets.Vxlan(7, Packets.SampleFrame(1400))))),
            OuterFrameTests.Frame(Packets.Ipv4("172.16.0.9", "10.0.0.1", 17, OuterFrameTests.ChecksummedUdp("172.16.0.9", "10.0.0.1", OuterFrameTests.Payload(13, 1)))),
            [.. OuterFrameTests.Frame(Packets.Ipv4("10.1.2.3", "10.9.8.7", 17, Packets.Udp(40000, 4789, [8, 0, 0, 0]))), .. new byte[14]],
            OuterFrameTests.Frame(Packets.Ipv4("10.1.2.3", "10.9.8.7", 17, Packets.Udp(40000, 4789, Packets.GeneveAroundVxlan(3, Packets.SampleFrame(200))), 0)),
        ];

        var buffer = new byte[9216];
        int accepted = 0, checksumErrors = 0, invalid = 0;
        for (int n = 0; n < Frames; n++)
        {
            int length = Mutate(random, seeds[random.Next(seeds.Length)], buffer);
            var frame = buffer.AsSpan(0, length);

            var error = OuterFrame.Parse(frame, out var payload, out uint source);

            bool valid = Valid(frame);
            Assert.True(valid == (error == DecapError.None), "frame " + n + ": " + error + ", the rules say " + (valid ? "valid" : "invalid") + ": " + Convert.ToHexString(frame));
            switch (error)
            {
                case DecapError.None:
                    accepted++;
                    var (start, payloadLength) = payload.GetOffsetAndLength(length);
                    int ipEnd = 14 + BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
                    Assert.Equal(OuterFrame.HeadersLength, start);
                    Assert.True(start + payloadLength <= ipEnd && ipEnd <= length, "payload beyond the IP packet or frame");
                    Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(frame[38..]) - 8, payloadLength);
                    Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(frame[26..]), source);
                    break;
                case DecapError.OuterChecksum:
                    checksumErrors++;
                    break;
                case DecapError.OuterHeaderInvalid:
                    invalid++;
                    break;
                default:
                    Assert.Fail("frame " + n + ": an error the outer parser does not own: " + error);
                    break;
            }
        }

        // Every outcome must be well exercised, or the agreement above says little.
        Assert.True(accepted > Frames / 10, "accepted " + accepted);
        Assert.True(checksumErrors > Frames / 20, "checksum errors " + checksumErrors);
        Assert.True(invalid > Frames / 10, "invalid " + invalid);
    }

    private static int Mutate(Random random, byte[] seed, byte[] buffer)
    {
        int length = seed.Length;
        seed.CopyTo(buffer, 0);
        switch (random.Next(12))
        {
            case 0: // noise, sometimes with a plausible IPv4/UDP start so the later checks run
                length = random.Next(0, 1600);
                random.NextBytes(buffer.AsSpan(0, length));
                if (length >= 42 && random.Next(2) == 0)
                {
                    buffer[12] = 0x08;
                    buffer[13] = 0;
                    buffer[14] = 0x45;
                    buffer[20] &= 0x40;
                    buffer[21] = 0;
                    buffer[23] = 17;
                    BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(16), (ushort)random.Next(20, length - 14 + 2));
                    BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(38), (ushort)random.Next(0, length - 34 + 2));
                    FixIpChecksum(buffer);
                }

                return length;
            case 1: // truncate anywhere
                return random.Next(0, seed.Length);
            case 2: // extend with noise (padding or junk after the IP packet)
                length = Math.Min(buffer.Length, seed.Length + random.Next(1, 64));
                random.NextBytes(buffer.AsSpan(seed.Length, length - seed.Length));
                return length;
            case 3: // flip bits in the headers
            case 4:
                for (int k = random.Next(1, 4); k > 0; k--)
                {
                    buffer[random.Next(42)] ^= (byte)(1 << random.Next(8));
                }

                return length;
            case 5: // flip a payload bit: only a UDP checksum notices
                buffer[random.Next(42, length)] ^= (byte)(1 << random.Next(8));
                if (random.Next(3) == 0)
                {
                    buffer[40] = buffer[41] = 0;
                }

                return length;
            case 6: // rewrite the IP total length, checksum redone
                BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(16), (ushort)NearOrAnywhere(random, length - 14));
                FixIpChecksum(buffer);
                return length;
            case 7: // rewrite the UDP length (the UDP checksum then mostly fails unless absent)
                BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(38), (ushort)NearOrAnywhere(random, length - 34));
                if (random.Next(2) == 0)
                {
                    buffer[40] = buffer[41] = 0;
                }

                return length;
            case 8: // rewrite one IP header byte, checksum redone (flags, IHL, protocol, addresses...)
                buffer[14 + random.Next(20)] = (byte)random.Next(256);
                FixIpChecksum(buffer);
                return length;
            case 9: // cut the frame and the IP length together, checksum redone
                length = random.Next(14, seed.Length);
                if (length >= 34)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(16), (ushort)(length - 14));
                    FixIpChecksum(buffer);
                }

                return length;
            default:
                return length;
        }
    }

    private static int NearOrAnywhere(Random random, int value)
        => random.Next(2) == 0 ? Math.Clamp(value + random.Next(-10, 11), 0, 65535) : random.Next(65536);

    private static void FixIpChecksum(byte[] frame)
    {
        frame[24] = frame[25] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(24), InternetChecksum.Of(frame.AsSpan(14, 20)));
    }

    /// <summary>The kernel's IPv4 and UDP receive rules, restated plainly.</summary>
    private static bool Valid(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 42 || frame[12] != 0x08 || frame[13] != 0x00 || frame[14] != 0x45)
        {
            return false;
        }

        int totalLength = (frame[16] << 8) | frame[17];
        bool fragment = (frame[20] & 0x20) != 0 || (((frame[20] & 0x1F) << 8) | frame[21]) != 0;
        if (totalLength < 28 || 14 + totalLength > frame.Length || fragment || frame[23] != 17)
        {
            return false;
        }

        if (InternetChecksum.Sum(frame.Slice(14, 20)) != 0xFFFF)
        {
            return false;
        }

        int udpLength = (frame[38] << 8) | frame[39];
        if (udpLength < 8 || 20 + udpLength > totalLength)
        {
            return false;
        }

        bool noChecksum = frame[40] == 0 && frame[41] == 0;
        uint pseudo = InternetChecksum.UdpPseudoHeader(frame.Slice(26, 4), frame.Slice(30, 4), udpLength);
        // A checksum left to the device by a sender on the same machine holds just the pseudo-header's sum.
        bool unfinished = ((frame[40] << 8) | frame[41]) == pseudo;
        return noChecksum || unfinished || InternetChecksum.Sum(frame.Slice(34, udpLength), pseudo) == 0xFFFF;
    }
}

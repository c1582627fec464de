using System.Runtime.InteropServices;

namespace AutoMirror.Sensor.Interop;

/// <summary>
/// The bpf(2) commands the AF_XDP and packet-ring receive paths need (no libbpf: the sensor ships as
/// one .NET program): an XSKMAP, programs loaded from instructions built in C# (<see cref="Receive.XdpFilterProgram"/>,
/// <see cref="Receive.PacketRingPrograms"/>), bpf_links that attach them to an interface (XDP, or tcx
/// ingress) for as long as the link's descriptor is open (so a crashed sensor leaves no program
/// behind), and BPF_PROG_TEST_RUN for tests.
/// </summary>
public static unsafe partial class Bpf
{
    public const int MapTypeXskMap = 17;
    public const int ProgTypeXdp = 6;
    public const int ProgTypeSchedCls = 3;
    public const int AttachTypeXdp = 37;
    public const int AttachTypeTcxIngress = 46;
    /// <summary>tcx verdicts: run the next program (and then the stack), or drop.</summary>
    public const int TcxNext = -1;
    public const int TcxDrop = 2;
    /// <summary>The program copes with multi-buffer packets (it reads only the first buffer); veth and others refuse jumbo MTUs without it.</summary>
    public const uint ProgFlagXdpHasFrags = 1u << 5;
    public const int XdpPass = 2;
    public const uint XdpFlagsSkbMode = 1u << 1;
    public const uint XdpFlagsDriverMode = 1u << 2;
    public const int XdpRedirect = 4;

    private const int CmdMapCreate = 0;
    private const int CmdMapUpdateElem = 2;
    private const int CmdProgLoad = 5;
    private const int CmdProgTestRun = 10;
    private const int CmdLinkCreate = 28;
    private const int AttrSize = 128;
    private const int LoadAttempts = 5;

    [StructLayout(LayoutKind.Sequential)]
    public struct Instruction
    {
        public byte Code;
        public byte Registers; // destination in the low nibble, source in the high one
        public short Offset;
        public int Immediate;

        public Instruction(byte code, int destination, int source, short offset, int immediate)
        {
            Code = code;
            Registers = (byte)((source << 4) | destination);
            Offset = offset;
            Immediate = immediate;
        }
    }

    public static int CreateXskMap(int entries)
    {
        var attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        ((uint*)attr)[0] = MapTypeXskMap;
        ((uint*)attr)[1] = 4;           // key: the receive queue index
        ((uint*)attr)[2] = 4;           // value: the AF_XDP socket's descriptor
        ((uint*)attr)[3] = (uint)entries;
        return Check(Call(CmdMapCreate, attr), "BPF_MAP_CREATE (XSKMAP)");
    }

    public static void UpdateElement(int mapFd, uint key, uint value)
    {
        var attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        *(uint*)attr = (uint)mapFd;
        *(ulong*)(attr + 8) = (ulong)&key;
        *(ulong*)(attr + 16) = (ulong)&value;
        Check(Call(CmdMapUpdateElem, attr), "BPF_MAP_UPDATE_ELEM");
    }

    /// <summary>Loads an XDP program; on a verifier rejection the exception carries the verifier's log.</summary>
    public static int LoadXdpProgram(ReadOnlySpan<Instruction> program, string name)
        => LoadProgram(program, name, ProgTypeXdp, AttachTypeXdp, ProgFlagXdpHasFrags);

    /// <summary>Loads a tc classifier for tcx ingress (kernel 6.6+).</summary>
    public static int LoadTcxIngressProgram(ReadOnlySpan<Instruction> program, string name)
        => LoadProgram(program, name, ProgTypeSchedCls, AttachTypeTcxIngress, 0);

    private static int LoadProgram(ReadOnlySpan<Instruction> program, string name, int type, int expectedAttachType, uint flags)
    {
        const int LogSize = 64 * 1024;
        byte* log = (byte*)NativeMemory.AllocZeroed(LogSize);
        try
        {
            var license = "GPL\0"u8;
            var attr = stackalloc byte[AttrSize];
            new Span<byte>(attr, AttrSize).Clear();
            fixed (Instruction* instructions = program)
            fixed (byte* licenseText = license)
            {
                ((uint*)attr)[0] = (uint)type;
                ((uint*)attr)[1] = (uint)program.Length;
                *(ulong*)(attr + 8) = (ulong)instructions;
                *(ulong*)(attr + 16) = (ulong)licenseText;
                *(uint*)(attr + 24) = 1;              // log level: only filled when the load fails
                *(uint*)(attr + 28) = LogSize;
                *(ulong*)(attr + 32) = (ulong)log;
                *(uint*)(attr + 44) = flags;
                var nameBytes = new Span<byte>(attr + 48, 16);
                System.Text.Encoding.ASCII.GetBytes(name.AsSpan(0, Math.Min(name.Length, 15)), nameBytes);
                *(uint*)(attr + 68) = (uint)expectedAttachType;
                // The verifier gives up with EAGAIN when a signal arrives for the thread meanwhile (a child's SIGCHLD,
                // the runtime's own signals): such a load is tried again, as libbpf does (seen in the test suite).
                long fd = Call(CmdProgLoad, attr);
                for (int attempt = 1; fd < 0 && Marshal.GetLastPInvokeError() == LibC.EAGAIN && attempt < LoadAttempts; attempt++)
                {
                    new Span<byte>(log, LogSize).Clear();
                    fd = Call(CmdProgLoad, attr);
                }

                if (fd < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    string verifier = Marshal.PtrToStringUTF8((nint)log) ?? string.Empty;
                    throw new IOException("BPF_PROG_LOAD failed: " + LibC.Describe(errno) + (verifier.Length > 0 ? "; verifier: " + verifier.Trim() : string.Empty));
                }

                return (int)fd;
            }
        }
        finally
        {
            NativeMemory.Free(log);
        }
    }

    /// <summary>Attaches the program to the interface (driver mode where the driver has XDP, else generic) until the returned link is closed.</summary>
    public static int AttachXdp(int programFd, int interfaceIndex, uint flags = 0)
    {
        var attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        ((uint*)attr)[0] = (uint)programFd;
        ((uint*)attr)[1] = (uint)interfaceIndex;
        ((uint*)attr)[2] = AttachTypeXdp;
        ((uint*)attr)[3] = flags;
        return Check(Call(CmdLinkCreate, attr), "BPF_LINK_CREATE (XDP)");
    }

    /// <summary>Attaches a tc classifier to the interface's ingress (tcx, ahead of any tc filters) until the returned link is closed.</summary>
    public static int AttachTcxIngress(int programFd, int interfaceIndex)
    {
        var attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        ((uint*)attr)[0] = (uint)programFd;
        ((uint*)attr)[1] = (uint)interfaceIndex;
        ((uint*)attr)[2] = AttachTypeTcxIngress;
        return Check(Call(CmdLinkCreate, attr), "BPF_LINK_CREATE (tcx ingress)");
    }

    /// <summary>Runs the program once on a packet in the kernel (BPF_PROG_TEST_RUN) and returns its verdict.</summary>
    public static int TestRun(int programFd, ReadOnlySpan<byte> packet)
    {
        var attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        fixed (byte* data = packet)
        {
            *(uint*)attr = (uint)programFd;
            *(uint*)(attr + 8) = (uint)packet.Length;    // data_size_in
            *(ulong*)(attr + 16) = (ulong)data;          // data_in
            *(uint*)(attr + 32) = 1;                     // repeat
            Check(Call(CmdProgTestRun, attr), "BPF_PROG_TEST_RUN");
            return *(int*)(attr + 4);                    // retval
        }
    }

    private static long Call(int command, byte* attr) => syscall(SyscallNumber, command, attr, AttrSize);

    private static int Check(long result, string what) =>
        result >= 0 ? (int)result : throw new IOException(what + " failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));

    private static long SyscallNumber => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 321,
        Architecture.Arm64 => 280,
        var other => throw new PlatformNotSupportedException("bpf(2) syscall number unknown for " + other),
    };

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long command, void* attr, long size);
}

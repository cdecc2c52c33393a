// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.37;

/// @title br2k service registry
/// @notice The recovery center of br2k services: each service's leader
/// records every backup log record here (an opaque blob, ECIES-encrypted to
/// the service account's key off chain), failed and new replicas read the
/// latest one, and clients find the current leader's location.
///
/// Service ids: the Go side passes keccak256 of the UTF-8 bytes of the
/// value of the config key service-registry.id (go-ethereum's
/// crypto.Keccak256Hash), so an id string of any length fits and no two
/// strings share an id by truncation or padding. Whoever registers an id
/// first manages it: the Go side checks the manager it reads back.
///
/// Roles, per service:
///  - the manager (whoever registered the id) starts, pauses and stops the
///    service, updates its replica endpoints, changes its service account
///    and pages through all of its backup log records;
///  - the service account (the key the replicas' leader holds) appends backup
///    log records and sets the leader's location.
///
/// States and transitions (anything else reverts with InvalidTransition):
///   register:                          -> Registered
///   start: Registered, Paused, Stopped -> Running
///   pause: Running                     -> Paused
///   stop:  Registered, Running, Paused -> Stopped
/// A Stopped service refuses backup log records and leader changes
/// (ServiceStopped) until it is started again; every other state takes them,
/// so that a leader can record a backup before the manager starts the
/// service.
///
/// Every input that a later read returns is bounded (endpoint count, string
/// and record lengths), and so is a page of records, so that no caller can
/// make a read unbounded, by accident or otherwise. The backup log itself
/// grows with every record: read it by position or in pages, never whole.
/// "Manager only" on backupLogs limits who may call it, not who can read:
/// contract storage is public, which is why records are encrypted.
///
/// Errors are custom errors only, no revert strings.
contract ServiceRegistry {
    /// @notice A service's life cycle; see the contract's comment.
    enum State {
        Registered,
        Running,
        Paused,
        Stopped
    }

    /// @notice One backup log record.
    struct BackupLog {
        /// The log index the record is about; strictly increasing per service.
        uint64 index;
        /// The block timestamp of the transaction that recorded it (seconds).
        uint64 time;
        /// The record, opaque to the contract (encrypted off chain).
        bytes record;
    }

    struct Service {
        address manager; // zero: no such service
        address serviceAccount;
        State state;
        uint64 leaderTerm;
        string leaderEndpoint;
        string description;
        string[] endpoints;
        BackupLog[] logs;
    }

    /// @notice At most this many replica endpoints per service.
    uint256 public constant MAX_ENDPOINTS = 32;
    /// @notice At most this many bytes in an endpoint (a replica's or the leader's).
    uint256 public constant MAX_ENDPOINT_LENGTH = 256;
    /// @notice At most this many bytes in a service's description.
    uint256 public constant MAX_DESCRIPTION_LENGTH = 1024;
    /// @notice At most this many bytes in a backup log record.
    uint256 public constant MAX_RECORD_LENGTH = 8192;
    /// @notice At most this many records in one backupLogs page.
    uint256 public constant MAX_PAGE = 16;

    mapping(bytes32 => Service) private services;

    /// @notice The caller may not do this (not the manager, or not the service account).
    error Unauthorized(address caller);
    /// @notice No service is registered under id.
    error UnknownService(bytes32 id);
    /// @notice A service is registered under id already.
    error ServiceExists(bytes32 id);
    /// @notice The service cannot go from state `from` to state `to`.
    error InvalidTransition(bytes32 id, State from, State to);
    /// @notice The service is stopped: no backup log records or leader changes.
    error ServiceStopped(bytes32 id);
    /// @notice A backup log record's index must be strictly above the latest one's
    /// (above 0 for the first record): a deposed leader's late or repeated record.
    error StaleBackup(uint64 latest, uint64 given);
    /// @notice A leader's term must not be below the stored one.
    error StaleTerm(uint64 stored, uint64 given);
    /// @notice The zero address is not a service account.
    error ZeroAddress();
    /// @notice Too many replica endpoints.
    error TooManyEndpoints(uint256 given, uint256 max);
    /// @notice A string or record is longer than its bound.
    error TooLong(uint256 length, uint256 max);
    /// @notice A backup log record must not be empty.
    error EmptyRecord();
    /// @notice There is no backup log record at position i; count records exist.
    error IndexOutOfRange(uint256 i, uint256 count);
    /// @notice A backupLogs page may hold at most max records.
    error PageTooLarge(uint256 n, uint256 max);

    event ServiceRegistered(
        bytes32 indexed id,
        address indexed manager,
        address serviceAccount,
        string description,
        string[] endpoints
    );
    event ServiceStateChanged(bytes32 indexed id, State from, State to);
    event ReplicasUpdated(bytes32 indexed id, string[] endpoints);
    event ServiceAccountChanged(bytes32 indexed id, address previous, address current);
    /// @param position the record's position in the service's backup log (0-based).
    /// @param recordHash keccak256 of the record.
    event BackupLogged(bytes32 indexed id, uint64 index, uint256 position, bytes32 recordHash);
    event LeaderChanged(bytes32 indexed id, uint64 term, string endpoint);

    /// @notice Registers a service under id; the caller becomes its manager.
    function register(
        bytes32 id,
        address serviceAccount,
        string calldata description,
        string[] memory endpoints
    ) external {
        Service storage s = services[id];
        if (s.manager != address(0)) revert ServiceExists(id);
        if (serviceAccount == address(0)) revert ZeroAddress();
        checkLength(bytes(description).length, MAX_DESCRIPTION_LENGTH);
        checkEndpoints(endpoints);
        s.manager = msg.sender;
        s.serviceAccount = serviceAccount;
        s.state = State.Registered;
        s.description = description;
        s.endpoints = endpoints;
        emit ServiceRegistered(id, msg.sender, serviceAccount, description, endpoints);
    }

    /// @notice Registered, Paused or Stopped -> Running. Manager only.
    function start(bytes32 id) external {
        Service storage s = managed(id);
        if (s.state == State.Running) revert InvalidTransition(id, s.state, State.Running);
        transition(s, id, State.Running);
    }

    /// @notice Running -> Paused. Manager only.
    function pause(bytes32 id) external {
        Service storage s = managed(id);
        if (s.state != State.Running) revert InvalidTransition(id, s.state, State.Paused);
        transition(s, id, State.Paused);
    }

    /// @notice Registered, Running or Paused -> Stopped. Manager only.
    function stop(bytes32 id) external {
        Service storage s = managed(id);
        if (s.state == State.Stopped) revert InvalidTransition(id, s.state, State.Stopped);
        transition(s, id, State.Stopped);
    }

    /// @notice Replaces the service's replica endpoints. Manager only.
    function updateReplicas(bytes32 id, string[] memory endpoints) external {
        Service storage s = managed(id);
        checkEndpoints(endpoints);
        s.endpoints = endpoints;
        emit ReplicasUpdated(id, endpoints);
    }

    /// @notice Hands the service account role to another key (a key rotation).
    /// Records already stored stay encrypted to the previous key. Manager only.
    function setServiceAccount(bytes32 id, address serviceAccount) external {
        Service storage s = managed(id);
        if (serviceAccount == address(0)) revert ZeroAddress();
        address previous = s.serviceAccount;
        s.serviceAccount = serviceAccount;
        emit ServiceAccountChanged(id, previous, serviceAccount);
    }

    /// @notice Appends a backup log record about log index `index`, which must be
    /// strictly above the latest record's (above 0 for the first). Service account only.
    function backupLog(bytes32 id, uint64 index, bytes calldata record) external {
        Service storage s = operated(id);
        uint256 length = record.length;
        if (length == 0) revert EmptyRecord();
        checkLength(length, MAX_RECORD_LENGTH);
        uint256 count = s.logs.length;
        uint64 latest = count == 0 ? 0 : s.logs[count - 1].index;
        if (index <= latest) revert StaleBackup(latest, index);
        s.logs.push(BackupLog({index: index, time: uint64(block.timestamp), record: record}));
        emit BackupLogged(id, index, count, keccak256(record));
    }

    /// @notice The latest backup log record and the number of records; index 0,
    /// empty record and count 0 when there is none.
    function latestBackupLog(bytes32 id) external view returns (uint64 index, bytes memory record, uint256 count) {
        Service storage s = existing(id);
        count = s.logs.length;
        if (count == 0) return (0, "", 0);
        BackupLog storage l = s.logs[count - 1];
        return (l.index, l.record, count);
    }

    /// @notice The number of backup log records.
    function backupLogCount(bytes32 id) external view returns (uint256) {
        return existing(id).logs.length;
    }

    /// @notice The backup log record at position i (0-based, oldest first).
    function backupLogAt(bytes32 id, uint256 i) external view returns (uint64 index, bytes memory record, uint64 time) {
        Service storage s = existing(id);
        uint256 count = s.logs.length;
        if (i >= count) revert IndexOutOfRange(i, count);
        BackupLog storage l = s.logs[i];
        return (l.index, l.record, l.time);
    }

    /// @notice Up to n (at most MAX_PAGE) backup log records from position `from`,
    /// oldest first; fewer at the end of the log, none past it. Manager only
    /// (the caller is msg.sender: set `from` in the eth_call).
    function backupLogs(bytes32 id, uint256 from, uint256 n) external view returns (BackupLog[] memory page) {
        Service storage s = managed(id);
        if (n > MAX_PAGE) revert PageTooLarge(n, MAX_PAGE);
        uint256 count = s.logs.length;
        if (from >= count) return new BackupLog[](0);
        if (n > count - from) n = count - from;
        page = new BackupLog[](n);
        for (uint256 k = 0; k < n; k++) {
            page[k] = s.logs[from + k];
        }
    }

    /// @notice Sets the leader's location for term `term`, which must not be below
    /// the stored term (an equal term updates the endpoint). Service account only.
    function setLeader(bytes32 id, uint64 term, string calldata endpoint) external {
        Service storage s = operated(id);
        uint64 stored = s.leaderTerm;
        if (term < stored) revert StaleTerm(stored, term);
        checkLength(bytes(endpoint).length, MAX_ENDPOINT_LENGTH);
        s.leaderTerm = term;
        s.leaderEndpoint = endpoint;
        emit LeaderChanged(id, term, endpoint);
    }

    /// @notice The leader's term and endpoint (0 and "" before the first setLeader).
    function leader(bytes32 id) external view returns (uint64 term, string memory endpoint) {
        Service storage s = existing(id);
        return (s.leaderTerm, s.leaderEndpoint);
    }

    /// @notice The service's manager, service account, description, replica
    /// endpoints and state.
    function service(bytes32 id)
        external
        view
        returns (
            address manager,
            address serviceAccount,
            string memory description,
            string[] memory endpoints,
            State state
        )
    {
        Service storage s = existing(id);
        return (s.manager, s.serviceAccount, s.description, s.endpoints, s.state);
    }

    function existing(bytes32 id) private view returns (Service storage s) {
        s = services[id];
        if (s.manager == address(0)) revert UnknownService(id);
    }

    /// @dev The service under id, whose manager must be the caller.
    function managed(bytes32 id) private view returns (Service storage s) {
        s = existing(id);
        if (s.manager != msg.sender) revert Unauthorized(msg.sender);
    }

    /// @dev The service under id, whose service account must be the caller,
    /// and which must not be stopped.
    function operated(bytes32 id) private view returns (Service storage s) {
        s = existing(id);
        if (s.serviceAccount != msg.sender) revert Unauthorized(msg.sender);
        if (s.state == State.Stopped) revert ServiceStopped(id);
    }

    function transition(Service storage s, bytes32 id, State to) private {
        State from = s.state;
        s.state = to;
        emit ServiceStateChanged(id, from, to);
    }

    function checkEndpoints(string[] memory endpoints) private pure {
        uint256 n = endpoints.length;
        if (n > MAX_ENDPOINTS) revert TooManyEndpoints(n, MAX_ENDPOINTS);
        for (uint256 k = 0; k < n; k++) {
            checkLength(bytes(endpoints[k]).length, MAX_ENDPOINT_LENGTH);
        }
    }

    function checkLength(uint256 length, uint256 max) private pure {
        if (length > max) revert TooLong(length, max);
    }
}

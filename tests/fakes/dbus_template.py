"""A python-dbusmock template: power-profiles-daemon and a desktop screensaver as they
really behave, for Gearshift's tests and benchmarks.

dbusmock's own power-profiles-daemon templates keep a hold's cookie and list it, but
neither switch the active profile nor drop a hold when its holder disconnects, and
there is no template for ``org.freedesktop.ScreenSaver``. This one loads the stock
template and adds what the real services do:

- a performance hold makes ``ActiveProfile`` performance (a power-saver hold wins over
  it), and the last release goes back to the profile chosen before;
- a hold or an inhibit is dropped when the connection that made it closes;
- the screensaver answers ``Inhibit`` with a cookie and ends it on ``UnInhibit``;
  ``CountInhibits`` is the tests' window into it, not part of the real interface.

Parameters: ``service`` ("power_profiles" or "screensaver"), ``legacy`` (True for the
``net.hadess.PowerProfiles`` names) and ``ActiveProfile``.

It runs inside the dbusmock process, loaded with ``AddTemplate``.
"""

import dbus
import dbus.lowlevel
from dbusmock.templates import power_profiles_daemon as legacy_ppd
from dbusmock.templates import upower_power_profiles_daemon as current_ppd

SCREENSAVER_IFACE = "org.freedesktop.ScreenSaver"


def load(mock, parameters):
    mock.callers = {}  # method name -> the unique name of the last caller
    mock.connection.add_message_filter(_remember_caller(mock))
    mock.connection.add_signal_receiver(
        _forget_holder(mock),
        signal_name="NameOwnerChanged",
        dbus_interface="org.freedesktop.DBus",
        bus_name="org.freedesktop.DBus",
        path="/org/freedesktop/DBus",
    )
    mock.owned = {}  # cookie -> the unique name of the connection that owns it
    if parameters.get("service", "power_profiles") == "screensaver":
        _load_screensaver(mock)
    else:
        _load_power_profiles(mock, parameters)


def _remember_caller(mock):
    def remember(_connection, message):
        if message.get_type() == dbus.lowlevel.MESSAGE_TYPE_METHOD_CALL:
            mock.callers[message.get_member()] = message.get_sender()
        return dbus.lowlevel.HANDLER_RESULT_NOT_YET_HANDLED

    return remember


def _forget_holder(mock):
    def forget(name, _old_owner, new_owner):
        if new_owner or not name.startswith(":"):
            return
        for cookie, holder in list(mock.owned.items()):
            if holder == name:
                mock.release_owned(mock, cookie)

    return forget


def _load_power_profiles(mock, parameters):
    stock = legacy_ppd if parameters.get("legacy", False) else current_ppd
    stock.load(mock, parameters)
    iface = stock.MAIN_IFACE
    mock.chosen_profile = str(mock.props[iface]["ActiveProfile"])

    def settle(self):
        held = [str(hold["Profile"]) for hold in self.holds.values()]
        if "power-saver" in held:
            active = "power-saver"
        elif "performance" in held:
            active = "performance"
        else:
            active = self.chosen_profile
        self.props[iface]["ActiveProfile"] = active

    def hold_profile(self, profile, reason, application_id):
        cookie = stock.hold_profile(self, profile, reason, application_id)
        self.owned[cookie] = self.callers.get("HoldProfile")
        settle(self)
        return cookie

    def release_profile(self, cookie):
        stock.release_profile(self, cookie)
        self.owned.pop(cookie, None)
        settle(self)

    mock.hold_profile = hold_profile
    mock.release_profile = release_profile
    mock.release_owned = release_profile


def _load_screensaver(mock):
    mock.inhibits = {}
    mock.next_cookie = 0

    def inhibit(self, application, reason):
        self.next_cookie += 1
        self.inhibits[self.next_cookie] = (str(application), str(reason))
        self.owned[self.next_cookie] = self.callers.get("Inhibit")
        return dbus.UInt32(self.next_cookie)

    def uninhibit(self, cookie):
        if int(cookie) not in self.inhibits:
            raise dbus.exceptions.DBusException(
                f"no inhibit {cookie}", name="org.freedesktop.DBus.Error.InvalidArgs"
            )
        del self.inhibits[int(cookie)]
        self.owned.pop(int(cookie), None)

    mock.inhibit = inhibit
    mock.uninhibit = uninhibit
    mock.release_owned = uninhibit
    mock.AddMethods(
        SCREENSAVER_IFACE,
        [
            ("Inhibit", "ss", "u", "ret = self.inhibit(self, args[0], args[1])"),
            ("UnInhibit", "u", "", "self.uninhibit(self, args[0])"),
            ("GetActive", "", "b", "ret = False"),
            ("CountInhibits", "", "u", "ret = dbus.UInt32(len(self.inhibits))"),
        ],
    )

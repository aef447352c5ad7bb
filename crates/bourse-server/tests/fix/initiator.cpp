// A scriptable FIX 4.4 initiator on QuickFIX (Debian's libquickfix-dev): the independent
// counterparty of tests/fix_quickfix.rs. QuickFIX runs the whole session layer (logon,
// heartbeats, sequence numbers in its own file store, resend requests, gap fills) and checks
// every message it receives against the FIX 4.4 data dictionary.
//
// stdin, one command per line:
//   send 35=D|11=...|55=...        an application message (header and trailer by QuickFIX;
//                                  60=now stands for the current time)
//   seqs                           prints "SEQS <next sender> <next target>"
//   bump_sender N                  skips N outbound sequence numbers (a gap at the server)
//   lower_target N                 expects N lower (a gap here: QuickFIX asks for a resend)
//   logout                         a Logout
//   quit                           stops and exits
// stdout: LOGON, LOGOUT, "IN <fields>" for each message received, "OUT <fields>" for each
// message sent, "CREATED", "ERROR <what>". Fields are separated by '|'.
//
// Environment: FIX_SETTINGS (the session settings file), FIX_USERNAME and FIX_PASSWORD (put
// in the Logon), FIX_COD (Y/N: tag 8013 in the Logon, when set).

#include <quickfix/Application.h>
#include <quickfix/FileLog.h>
#include <quickfix/FileStore.h>
#include <quickfix/Message.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>

#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

static std::mutex out_lock;

static void emit(const std::string& line) {
  std::lock_guard<std::mutex> g(out_lock);
  std::cout << line << std::endl;
}

static std::string bars(const FIX::Message& m) {
  std::string s = m.toString();
  for (auto& c : s) {
    if (c == '\x01') c = '|';
  }
  return s;
}

class App : public FIX::Application {
 public:
  FIX::SessionID id;
  void onCreate(const FIX::SessionID& s) override {
    id = s;
    emit("CREATED");
  }
  void onLogon(const FIX::SessionID&) override { emit("LOGON"); }
  void onLogout(const FIX::SessionID&) override { emit("LOGOUT"); }
  void toAdmin(FIX::Message& m, const FIX::SessionID&) override {
    if (m.getHeader().getField(FIX::FIELD::MsgType) == "A") {
      const char* u = std::getenv("FIX_USERNAME");
      const char* p = std::getenv("FIX_PASSWORD");
      const char* cod = std::getenv("FIX_COD");
      if (u) m.setField(553, u);
      if (p) m.setField(554, p);
      if (cod) m.setField(8013, cod);
    }
    emit("OUT " + bars(m));
  }
  void toApp(FIX::Message& m, const FIX::SessionID&) throw(FIX::DoNotSend) override {
    emit("OUT " + bars(m));
  }
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::RejectLogon) override {
    emit("IN " + bars(m));
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override {
    emit("IN " + bars(m));
  }
};

int main() {
  const char* path = std::getenv("FIX_SETTINGS");
  if (!path) {
    std::cerr << "FIX_SETTINGS is not set" << std::endl;
    return 2;
  }
  try {
    FIX::SessionSettings settings(path);
    App app;
    FIX::FileStoreFactory store(settings);
    FIX::FileLogFactory log(settings);
    FIX::SocketInitiator initiator(app, store, settings, log);
    initiator.start();
    std::string line;
    while (std::getline(std::cin, line)) {
      FIX::Session* s = FIX::Session::lookupSession(app.id);
      if (!s) {
        emit("ERROR no session");
        continue;
      }
      std::istringstream in(line);
      std::string cmd;
      in >> cmd;
      try {
        if (cmd == "send") {
          std::string rest;
          std::getline(in, rest);
          rest.erase(0, rest.find_first_not_of(' '));
          FIX::Message m;
          std::istringstream fields(rest);
          std::string f;
          while (std::getline(fields, f, '|')) {
            auto eq = f.find('=');
            if (eq == std::string::npos) continue;
            int tag = std::atoi(f.substr(0, eq).c_str());
            std::string value = f.substr(eq + 1);
            if (tag == 35) {
              m.getHeader().setField(FIX::MsgType(value));
            } else if (value == "now") {
              m.setField(FIX::UtcTimeStampField(tag, FIX::UtcTimeStamp(), 3));
            } else {
              m.setField(tag, value);
            }
          }
          if (!FIX::Session::sendToTarget(m, app.id)) emit("ERROR not sent");
        } else if (cmd == "seqs") {
          emit("SEQS " + std::to_string(s->getExpectedSenderNum()) + " " +
               std::to_string(s->getExpectedTargetNum()));
        } else if (cmd == "bump_sender") {
          int n = 0;
          in >> n;
          s->setNextSenderMsgSeqNum(s->getExpectedSenderNum() + n);
          emit("OK");
        } else if (cmd == "lower_target") {
          int n = 0;
          in >> n;
          s->setNextTargetMsgSeqNum(s->getExpectedTargetNum() - n);
          emit("OK");
        } else if (cmd == "logout") {
          s->logout("done");
          emit("OK");
        } else if (cmd == "quit") {
          break;
        } else {
          emit("ERROR unknown command " + cmd);
        }
      } catch (std::exception& e) {
        emit(std::string("ERROR ") + e.what());
      }
    }
    initiator.stop();
  } catch (std::exception& e) {
    std::cerr << "initiator: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}

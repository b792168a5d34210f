//! One SMTP session with the relay: greeting, EHLO (HELO fallback),
//! STARTTLS, AUTH, then messages, each as MAIL, RCPT and DATA (pipelined
//! when offered) and the dot-stuffed body, whose final `.` waits for the
//! session's [`Gate`].

use super::*;
use bantin_core::subscriber::smtp_address;

/// One SMTP session with the relay.
pub struct Session {
    stream: Box<dyn Io>,
    /// Bytes read from the relay and not yet taken as reply lines.
    input: Vec<u8>,
    /// The next write, reused between messages.
    output: Vec<u8>,
    ext: Extensions,
    /// Whether the relay answered anything of the current message: a
    /// pooled session that fails before that was closed while idle, and
    /// the message can go on a fresh one without any risk of a double.
    pub(super) answered: bool,
    /// The last accepted message's commit, if not yet seen done.
    pub(super) gate: Option<Gate>,
}

impl Session {
    fn new(stream: Box<dyn Io>) -> Session {
        Session { stream, input: Vec::with_capacity(1024), output: Vec::new(), ext: Extensions::default(), answered: false, gate: None }
    }

    pub fn extensions(&self) -> &Extensions {
        &self.ext
    }

    /// Opens a session: TCP, TLS as `security` says, greeting, EHLO,
    /// STARTTLS, AUTH.
    pub async fn open(settings: &Relay) -> Result<Session, SmtpError> {
        let tcp = tokio::net::TcpStream::connect((settings.host.as_str(), settings.port)).await?;
        tcp.set_nodelay(true)?;
        let mut session = match settings.security {
            Security::Implicit => Session::new(Box::new(settings.tls_handshake(tcp).await?)),
            Security::Opportunistic | Security::Required | Security::Plain => Session::new(Box::new(tcp)),
        };
        session.reply().await?.require(Step::Greeting, |c| c == 220)?;
        session.hello(&settings.hello).await?;
        let mut encrypted = settings.security == Security::Implicit;
        if settings.security == Security::Required && !session.ext.starttls {
            return Err(SmtpError::Tls(format!(
                "{} offers no STARTTLS and mail.smtp_url says tls=required, so nothing is sent in clear; \
                 turn STARTTLS on at the relay, or use smtps://",
                settings.host
            )));
        }
        if matches!(settings.security, Security::Opportunistic | Security::Required) && session.ext.starttls {
            session.command("STARTTLS").await?.require(Step::StartTls, |c| c == 220)?;
            // Whatever came after the 220 was sent before TLS and must not
            // be read as if it came through it (the STARTTLS injection).
            if !session.input.is_empty() {
                return Err(SmtpError::Protocol("the relay sent data after its STARTTLS reply".into()));
            }
            let plain = std::mem::replace(&mut session.stream, Box::new(tokio::io::duplex(1).0));
            session.stream = Box::new(settings.tls_handshake(plain).await?);
            session.hello(&settings.hello).await?;
            encrypted = true;
        }
        if let Some((user, password)) = &settings.credentials {
            if !may_send_password(&settings.host, encrypted) {
                return Err(SmtpError::Unsupported(format!(
                    "{} offers no STARTTLS, and the password of mail.smtp_url is not sent in clear over the network; \
                     use smtps:// or a relay that offers STARTTLS (a relay on this host, 127.0.0.1 or localhost, may go without)",
                    settings.host
                )));
            }
            session.auth(user, password).await?;
        }
        Ok(session)
    }

    async fn hello(&mut self, name: &str) -> Result<(), SmtpError> {
        let reply = self.command(&format!("EHLO {name}")).await?;
        self.ext = if reply.is_positive() {
            Extensions::parse(&reply)
        } else {
            // A relay from before ESMTP: no extensions.
            self.command(&format!("HELO {name}")).await?.require(Step::Helo, |c| c == 250)?;
            Extensions::default()
        };
        Ok(())
    }

    async fn auth(&mut self, user: &str, password: &str) -> Result<(), SmtpError> {
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        if self.ext.auth.iter().any(|m| m == "PLAIN") {
            let token = b64(format!("\0{user}\0{password}").as_bytes());
            self.command(&format!("AUTH PLAIN {token}")).await?.require(Step::AuthPlain, |c| c == 235)?;
        } else if self.ext.auth.iter().any(|m| m == "LOGIN") {
            self.command("AUTH LOGIN").await?.require(Step::AuthLogin, |c| c == 334)?;
            self.command(&b64(user.as_bytes())).await?.require(Step::AuthLoginUser, |c| c == 334)?;
            self.command(&b64(password.as_bytes())).await?.require(Step::AuthLoginPassword, |c| c == 235)?;
        } else {
            return Err(SmtpError::Protocol(format!(
                "mail.smtp_url has credentials but the relay offers no AUTH PLAIN or LOGIN (it offers {:?})",
                self.ext.auth
            )));
        }
        Ok(())
    }

    /// Sends one message to one recipient; Ok once the relay took it.
    pub async fn send(&mut self, from: &str, to: &str, body: &[u8]) -> Result<(), SmtpError> {
        self.answered = false;
        let (from, to) = (smtp_address(from), smtp_address(to));
        let mut params = String::new();
        if !(from.is_ascii() && to.is_ascii()) {
            if !self.ext.smtp_utf8 {
                let address = if to.is_ascii() { &from } else { &to };
                return Err(SmtpError::Unsupported(format!(
                    "the address {address:?} needs SMTPUTF8, which the relay does not offer; send through a relay that does (postfix: smtputf8_enable = yes)"
                )));
            }
            params.push_str(" SMTPUTF8");
        }
        if self.ext.eight_bit_mime && !body.is_ascii() {
            params.push_str(" BODY=8BITMIME");
        }
        // Each command with the reply it must get: 2xx, and 354 for DATA.
        let envelope: [EnvelopeCommand; 3] = [
            (format!("MAIL FROM:<{from}>{params}"), Step::MailFrom, completed),
            (format!("RCPT TO:<{to}>"), Step::RcptTo, completed),
            ("DATA".to_string(), Step::Data, |c| c == 354),
        ];
        self.send_envelope(envelope).await?;
        self.send_content(body).await?;
        self.reply().await?.require(Step::EndOfData, completed)?;
        Ok(())
    }

    /// MAIL, RCPT and DATA: in one write when the relay offers PIPELINING,
    /// else one after the other.
    async fn send_envelope(&mut self, envelope: [EnvelopeCommand; 3]) -> Result<(), SmtpError> {
        if !self.ext.pipelining {
            for (command, name, want) in &envelope {
                self.command(command).await?.require(*name, want)?;
            }
            return Ok(());
        }
        self.output.clear();
        for (command, _, _) in &envelope {
            self.output.extend_from_slice(command.as_bytes());
            self.output.extend_from_slice(b"\r\n");
        }
        self.flush_output().await?;
        // Every reply is read (they are in the pipe), the first failure
        // is the one reported.
        let mut failure = None;
        for (_, name, want) in envelope {
            match self.reply().await {
                Ok(r) => {
                    if let Err(e) = r.require(name, want) {
                        failure.get_or_insert(e);
                    }
                }
                Err(e) => return Err(failure.unwrap_or(e)),
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// The dot-stuffed body and its final `.`, the `.` only once the last
    /// accepted message's outcome is committed (the session's [`Gate`]).
    async fn send_content(&mut self, body: &[u8]) -> Result<(), SmtpError> {
        self.output.clear();
        dot_stuff(body, &mut self.output);
        // Whether the last accepted message's outcome is committed: at
        // once (the usual case: the body then goes with its end in one
        // write), or only later (the body goes now, its final `.` once the
        // commit is done). A gate left by a cancelled send is still here.
        let ready = match self.gate.as_mut() {
            None => Some(true),
            Some(gate) => gate.now_or_never(),
        };
        if let Some(committed) = ready {
            self.gate = None;
            if !committed {
                return Err(SmtpError::Held);
            }
            return self.flush_output().await;
        }
        let end = self.output.len() - b".\r\n".len();
        self.stream.write_all(&self.output[..end]).await?;
        self.stream.flush().await?;
        let committed = match self.gate.as_mut() {
            Some(gate) => gate.await,
            None => true,
        };
        self.gate = None;
        if !committed {
            return Err(SmtpError::Held);
        }
        self.stream.write_all(b".\r\n").await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// NOOP: whether the relay still answers.
    pub async fn noop(&mut self) -> Result<(), SmtpError> {
        self.command("NOOP").await?.require(Step::Noop, |c| c == 250).map(|_| ())
    }

    /// QUIT, for a polite end.
    pub async fn quit(&mut self) -> Result<(), SmtpError> {
        self.command("QUIT").await?.require(Step::Quit, |c| c == 221).map(|_| ())
    }

    async fn command(&mut self, line: &str) -> Result<Reply, SmtpError> {
        self.output.clear();
        self.output.extend_from_slice(line.as_bytes());
        self.output.extend_from_slice(b"\r\n");
        self.flush_output().await?;
        self.reply().await
    }

    async fn flush_output(&mut self) -> Result<(), SmtpError> {
        self.stream.write_all(&self.output).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Reads one reply, all its lines (`250-…` continues, `250 …` ends).
    async fn reply(&mut self) -> Result<Reply, SmtpError> {
        let mut lines = Vec::new();
        let mut size = 0;
        loop {
            let line = self.line().await?;
            size += line.len();
            if size > MAX_REPLY {
                return Err(SmtpError::Protocol("a reply longer than 64 KiB".into()));
            }
            let code = line
                .get(..3)
                .filter(|c| c.iter().all(u8::is_ascii_digit))
                .and_then(|c| std::str::from_utf8(c).ok()?.parse::<u16>().ok())
                .ok_or_else(|| SmtpError::Protocol(format!("{:?}", String::from_utf8_lossy(&line))))?;
            self.answered = true;
            let more = line.get(3) == Some(&b'-');
            lines.push(String::from_utf8_lossy(line.get(4..).unwrap_or_default()).into_owned());
            if !more {
                return Ok(Reply { code, lines });
            }
        }
    }

    /// The next line from the relay, without its line break.
    async fn line(&mut self) -> Result<Vec<u8>, SmtpError> {
        loop {
            if let Some(end) = self.input.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.input.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.input.len() > MAX_REPLY {
                return Err(SmtpError::Protocol("a reply line longer than 64 KiB".into()));
            }
            let mut chunk = [0u8; 2048];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(SmtpError::Closed);
            }
            self.input.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::smtp::Relay;

    /// A relay that offers PIPELINING and answers MAIL, RCPT and DATA only
    /// once all three have arrived: a client that waits for each reply
    /// before the next command never gets one (the test times out).
    #[tokio::test]
    async fn mail_rcpt_and_data_go_out_in_one_write_when_pipelining_is_offered() {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let relay = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read);
            let mut line = String::new();
            write.write_all(b"220 test ESMTP\r\n").await.unwrap();
            lines.read_line(&mut line).await.unwrap();
            assert!(line.starts_with("EHLO "), "{line:?}");
            write.write_all(b"250-test\r\n250-PIPELINING\r\n250 8BITMIME\r\n").await.unwrap();
            let mut commands = Vec::new();
            for _ in 0..3 {
                line.clear();
                lines.read_line(&mut line).await.unwrap();
                commands.push(line.clone());
            }
            assert_eq!(commands, ["MAIL FROM:<a@example.org>\r\n", "RCPT TO:<b@example.org>\r\n", "DATA\r\n"]);
            write.write_all(b"250 ok\r\n250 ok\r\n354 go on\r\n").await.unwrap();
            let mut data = Vec::new();
            loop {
                line.clear();
                lines.read_line(&mut line).await.unwrap();
                if line == ".\r\n" {
                    break;
                }
                data.push(line.clone());
            }
            write.write_all(b"250 queued\r\n").await.unwrap();
            data
        });
        let tls = crate::tls::client_config().unwrap();
        let settings = Relay {
            host: "127.0.0.1".into(),
            port,
            security: Security::Opportunistic,
            credentials: None,
            hello: "client.test".into(),
            tls,
        };
        let sent = tokio::time::timeout(Duration::from_secs(10), async {
            let mut session = Session::open(&settings).await?;
            assert!(session.extensions().pipelining);
            session.send("a@example.org", "b@example.org", b"Subject: x\r\n\r\n.hidden\r\n").await
        })
        .await;
        assert!(matches!(sent, Ok(Ok(()))), "{sent:?}");
        let data = relay.await.unwrap();
        assert_eq!(data, ["Subject: x\r\n", "\r\n", "..hidden\r\n"], "the body arrives dot-stuffed");
    }
}

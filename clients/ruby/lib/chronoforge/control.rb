# frozen_string_literal: true

require "json"
require "msgpack"
require "securerandom"
require_relative "envelope"

module Chronoforge
  # What became of a control request (SPEC §2, "Control requests"): outcome is "accepted",
  # "refused" (code and reason say why) or "pending" (no worker answered within the timeout; the
  # request stays queued and is applied when a worker takes it; sending it again with the same
  # id is safe).
  ControlResult = Struct.new(:outcome, :id, :code, :reason, keyword_init: true) do
    def accepted?
      outcome == "accepted"
    end

    def refused?
      outcome == "refused"
    end

    def pending?
      outcome == "pending"
    end
  end

  # Control requests: one msgpack map pushed with LPUSH P:{Q}:control; the worker commits it to
  # Postgres first, then answers on P:reply:<id>, which the client waits for with BRPOP.
  module Control
    VERSION = 1
    PAYLOAD_MAX_BYTES = 64 * 1024
    ID_RE = /\A[A-Za-z0-9_.:-]{1,64}\z/.freeze

    module_function

    def request_id(value)
      return SecureRandom.hex(12) if value.nil?

      unless value.is_a?(String) && ID_RE.match?(value)
        Envelope.refuse("bad_value", "id", "the id must be 1-64 characters of A-Z a-z 0-9 _ . : -, got #{value.inspect}")
      end
      value
    end

    def signal_name(name)
      name = name.to_s if name.is_a?(Symbol)
      Envelope.refuse("wrong_type", "name", "the signal name must be a String, got #{name.class}") unless name.is_a?(String)
      name = Envelope.text(name, "name")
      unless name.bytesize.between?(1, 200) && !name.include?("$")
        Envelope.refuse("bad_value", "name", "the signal name must be 1-200 bytes without '$'")
      end
      name
    end

    # The payload as JSON text (nil: none).
    def payload_json(payload)
      return nil if payload.nil?

      JSON.generate(payload, allow_nan: false)
    rescue JSON::GeneratorError, TypeError => e
      Envelope.refuse("wrong_type", "payload", "the payload must be JSON-serialisable: #{e.message}")
    end

    # Returns [request id, request bytes]; raises InvalidJob for what a worker would refuse.
    def build(op, workflow_class, key, prefix:, id: nil, reply: true, by: nil, name: nil, payload: nil,
              reason: nil, now: nil)
      rid = request_id(id)
      req = { "v" => VERSION, "id" => rid, "op" => op, "class" => Envelope.class_name(workflow_class),
              "key" => Envelope.check_key(key) }
      req["reply"] = "#{prefix}:reply:#{rid}" if reply
      req["sent_at"] = (now || Time.now.to_r).to_f
      req["by"] = Envelope.check_requester(by, "by", 1, 256) unless by.nil?
      req["name"] = signal_name(name) unless name.nil?
      unless payload.nil?
        payload = Envelope.text(payload, "payload")
        if payload.bytesize > PAYLOAD_MAX_BYTES
          Envelope.refuse("too_large", "payload", "the payload is over #{PAYLOAD_MAX_BYTES} bytes of JSON")
        end
        req["payload"] = payload
      end
      req["reason"] = Envelope.check_requester(reason, "reason", 0, 1024) unless reason.nil?
      [rid, MessagePack.pack(req)]
    end

    def parse_reply(bytes)
      reply = MessagePack.unpack(bytes)
      unless reply.is_a?(Hash) && %w[accepted refused].include?(reply["outcome"])
        raise ArgumentError, "not a control reply: #{bytes.inspect}"
      end

      ControlResult.new(outcome: reply["outcome"], id: reply["id"].to_s, code: reply["code"],
                        reason: reply["reason"])
    end
  end
end

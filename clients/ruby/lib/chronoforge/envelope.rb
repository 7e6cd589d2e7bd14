# frozen_string_literal: true

require "msgpack"
require "securerandom"

module Chronoforge
  # Raised when a job would be refused by the worker (SPEC §1). It is an ArgumentError whose
  # #code is the worker's refusal code (bad_value, wrong_type, ...) and whose #field is the path
  # the worker would report ("key", "kwargs.items[2].sku", "" for the whole envelope; bytes of
  # names outside printable ASCII written \xNN, at most 127 characters). The message names the
  # value as written and ends with the code in brackets.
  class InvalidJob < ArgumentError
    attr_reader :code, :field

    def initialize(code, path, detail)
      @code = code
      @field = InvalidJob.field_for(path)
      readable = path.empty? ? "envelope" : path.dup.force_encoding(Encoding::UTF_8).scrub
      super("#{readable}: #{detail} [#{code}]")
    end

    # The worker's spelling of a path: printable ASCII kept, other bytes as \xNN, 127 at most.
    def self.field_for(path)
      path.b.gsub(/[^\x20-\x7e]/n) { |c| format("\\x%02x", c.ord) }[0, 127]
    end
  end

  # Builds and checks envelopes (SPEC §1, wire format v1). Everything the worker would refuse is
  # refused here first, with the same code and field, so a bad job fails in the producer's
  # process instead of landing in a dead-letter list.
  module Envelope
    VERSION = 1
    MAX_BYTES = 512 * 1024
    # Container depth (SPEC §1): the envelope map is 0 and the kwargs/options maps are 1; a
    # container at depth 17 is too deep, so kwargs can hold 15 more levels of arrays and maps.
    MAX_DEPTH = 16
    RESERVED_NAMES = %w[attempt retry_counts retry_workflow].freeze
    CLASS_RE = /\A[A-Za-z0-9_.:]{1,128}\z/.freeze
    QUEUE_RE = /\A[A-Za-z0-9_.-]{1,64}\z/.freeze
    DURATION_RE = /\A([0-9]+(?:\.[0-9]+)?)(ms|s|m|min|h|d)?\z/.freeze
    DURATION_UNITS = { nil => 1.0, "ms" => 0.001, "s" => 1.0, "m" => 60.0, "min" => 60.0,
                       "h" => 3600.0, "d" => 86_400.0 }.freeze
    MAX_DURATION_SECONDS = 100 * 365 * 86_400
    INT64 = (-(2**63)..(2**63) - 1).freeze
    KEY_MAX_BYTES = 256
    TYPES_HINT = "use nil, true/false, Integer, Float, String, Symbol, Array or Hash"

    module_function

    # Returns [jid, bytes] for one job. kwargs and options are Hashes with String or Symbol keys.
    def build(workflow_class, key, kwargs: {}, queue: "default", options: {}, retry_workflow: false,
              requested_by: nil, reason: nil, max_bytes: MAX_BYTES, jid: SecureRandom.hex(12),
              now: Time.now)
      # Checked, and written, in the order the worker checks them (SPEC §1), so a job with
      # several problems is refused for the same one here and there.
      env = {
        "v" => VERSION,
        "jid" => jid,
        "class" => class_name(workflow_class),
        "key" => check_key(key),
        "queue" => queue_name(queue),
        "created_at" => now.to_f
      }
      env["kwargs"] = check_kwargs(kwargs) unless retry_workflow
      opts = check_options(options)
      env["options"] = opts unless opts.empty?
      env["retry_workflow"] = true if retry_workflow
      unless requested_by.nil? && reason.nil?
        unless retry_workflow
          refuse("bad_value", "requested_by", "requested_by and reason go with retry_workflow")
        end
        env["requested_by"] = check_requester(requested_by, "requested_by", 1, 256) unless requested_by.nil?
        env["reason"] = check_requester(reason, "reason", 0, 1024) unless reason.nil? || reason.empty?
      end
      bytes = MessagePack.pack(env)
      if bytes.bytesize > max_bytes
        refuse("too_large", "", "the envelope is #{bytes.bytesize} bytes, over the #{max_bytes}-byte " \
                                "limit; keep large data elsewhere and pass a reference")
      end
      [jid, bytes]
    end

    def refuse(code, field, detail)
      raise InvalidJob.new(code, field, detail)
    end

    def class_name(workflow_class)
      name = workflow_class.is_a?(Module) ? workflow_class.name : workflow_class
      name = name.to_s if name.is_a?(Symbol)
      unless name.is_a?(String)
        refuse("wrong_type", "class", "the workflow class must be a String or a named Class, " \
                                      "got #{describe(workflow_class)}")
      end
      unless CLASS_RE.match?(name)
        refuse("bad_value", "class", "#{name.inspect} is not a workflow class name " \
                                     "(1-128 characters of A-Z a-z 0-9 _ . :)")
      end
      name
    end

    def check_key(key)
      unless key.is_a?(String)
        refuse("wrong_type", "key", "the key must be a non-empty String, got #{describe(key)}" \
                                    "#{key.is_a?(Integer) ? ' (pass key.to_s)' : ''}")
      end
      key = text(key, "key")
      refuse("bad_value", "key", "the key must be a non-empty String") if key.empty?
      if key.bytesize > KEY_MAX_BYTES
        refuse("bad_value", "key", "the key is #{key.bytesize} bytes, over #{KEY_MAX_BYTES}")
      end
      key
    end

    # requested_by (1-256 bytes) and reason (0-1024 bytes) of a retry envelope.
    def check_requester(value, field, min, max)
      refuse("wrong_type", field, "#{field} must be a String, got #{describe(value)}") unless value.is_a?(String)
      value = text(value, field)
      unless value.bytesize.between?(min, max)
        refuse("bad_value", field, "#{field} must be #{min}-#{max} bytes, not #{value.bytesize}")
      end
      value
    end

    def queue_name(queue)
      queue = queue.to_s if queue.is_a?(Symbol)
      refuse("wrong_type", "queue", "the queue must be a String, got #{describe(queue)}") unless queue.is_a?(String)
      unless QUEUE_RE.match?(queue)
        refuse("bad_value", "queue", "#{queue.inspect} is not a queue name (1-64 characters of A-Z a-z 0-9 _ . -)")
      end
      queue
    end

    def check_kwargs(kwargs)
      kwargs = {} if kwargs.nil?
      unless kwargs.is_a?(Hash)
        refuse("wrong_type", "kwargs", "kwargs must be a Hash, got #{describe(kwargs)}")
      end
      map(kwargs, "kwargs", 1, reserved: true)
    end

    def check_options(options)
      options = {} if options.nil?
      refuse("wrong_type", "options", "options must be a Hash, got #{describe(options)}") unless options.is_a?(Hash)
      out = map(options, "options", 1)
      out["max_duration"] = max_duration(out["max_duration"]) if out.key?("max_duration")
      out
    end

    def max_duration(value)
      field = "options.max_duration"
      case value
      when Integer, Float
        refuse("bad_value", field, "max_duration must not be negative, got #{value}") if value.negative?
      when String
        m = DURATION_RE.match(value)
        seconds = m && m[1].to_f * DURATION_UNITS.fetch(m[2])
        unless seconds && seconds <= MAX_DURATION_SECONDS
          refuse("bad_value", field, "#{value.inspect} is not a duration (seconds, or e.g. 1500ms, 30s, 10m, 2h)")
        end
      else
        refuse("wrong_type", field, "max_duration must be seconds (a number) or a duration String like " \
                                    "\"10m\", got #{describe(value)}")
      end
      value
    end

    # Seconds in the future for `wait:`: a number, a duration String ("30s") or anything with
    # #to_f such as ActiveSupport::Duration.
    def wait_seconds(wait)
      seconds =
        case wait
        when Integer, Float then wait
        when String
          m = DURATION_RE.match(wait) or refuse("bad_value", "wait", "#{wait.inspect} is not a duration")
          m[1].to_f * DURATION_UNITS.fetch(m[2])
        else
          refuse("wrong_type", "wait", "wait must be seconds or a duration, got #{describe(wait)}") unless wait.respond_to?(:to_f)
          wait.to_f
        end
      refuse("bad_value", "wait", "wait must be a finite number of seconds >= 0, got #{wait.inspect}") unless seconds.finite? && seconds >= 0
      seconds
    end

    # Due time in ms since the Unix epoch for `at:`: a Time, Unix seconds or an ISO-8601 String.
    def at_ms(at)
      case at
      when Time then (at.to_r * 1000).round
      when Integer, Float
        refuse("bad_value", "at", "at must be finite Unix seconds, got #{at}") unless at.finite? && at >= 0
        (at * 1000).round
      when String
        require "time"
        begin
          (Time.iso8601(at).to_r * 1000).round
        rescue ArgumentError
          refuse("bad_value", "at", "#{at.inspect} is not an ISO-8601 time")
        end
      else
        refuse("wrong_type", "at", "at must be a Time, Unix seconds or an ISO-8601 String, got #{describe(at)}")
      end
    end

    def map(hash, path, depth, reserved: false)
      too_deep(path) if depth > MAX_DEPTH
      out = {}
      hash.each do |k, v|
        k = k.to_s if k.is_a?(Symbol)
        unless k.is_a?(String) && k.encoding != Encoding::BINARY
          refuse("wrong_type", "#{path}.?", "map keys must be text Strings or Symbols, got #{describe(k)}" \
                                            "#{k.is_a?(String) ? ' (binary, ASCII-8BIT)' : ''}")
        end
        name = text(k, "#{path.b}.#{k.b}")
        child = "#{path}.#{name}"
        refuse("bad_value", child, "duplicate key #{name.inspect} (a String and a Symbol?)") if out.key?(name)
        if reserved && RESERVED_NAMES.include?(name)
          refuse("reserved_name", child, "#{name.inspect} is reserved for the worker " \
                                         "(#{RESERVED_NAMES.join(', ')}); rename the argument")
        end
        out[name] = value(v, child, depth)
      end
      out
    end

    def too_deep(path)
      refuse("too_deep", path, "containers may nest at most #{MAX_DEPTH} levels deep in the envelope " \
                               "(#{MAX_DEPTH - 1} below kwargs)")
    end

    def value(val, path, depth)
      case val
      when nil, true, false then val
      when Integer
        return val if INT64.cover?(val)

        refuse("bad_value", path, "#{val} is outside the 64-bit signed integer range; pass it as a String")
      when Float
        return val if val.finite?

        refuse("bad_value", path, "#{val} cannot be sent (JSON has no NaN or Infinity); use nil or a String")
      when String then text(val, path)
      when Symbol then text(val.to_s, path)
      when Array
        too_deep(path) if depth + 1 > MAX_DEPTH
        val.each_with_index.map { |e, i| value(e, "#{path}[#{i}]", depth + 1) }
      when Hash then map(val, path, depth + 1)
      else
        if val.is_a?(Time) || (defined?(::Date) && val.is_a?(::Date))
          refuse("wrong_type", path, "a #{val.class} cannot be sent; pass an ISO-8601 String (t.iso8601) " \
                                     "or an epoch number (t.to_i, or milliseconds)")
        end
        refuse("wrong_type", path, "#{describe(val)} cannot be sent; #{TYPES_HINT}")
      end
    end

    # Returns str as valid UTF-8 without NUL, or refuses. Binary Strings (ASCII-8BIT, e.g. read
    # from a socket or File.binread) would travel as msgpack bin, which the worker refuses.
    def text(str, path)
      if str.encoding == Encoding::BINARY
        refuse("wrong_type", path, "binary (ASCII-8BIT) String; if it is text, call " \
                                   ".force_encoding(Encoding::UTF_8), otherwise Base64-encode it")
      end
      unless str.encoding == Encoding::UTF_8 || str.encoding == Encoding::US_ASCII
        begin
          str = str.encode(Encoding::UTF_8)
        rescue EncodingError
          refuse("bad_utf8", path, "the #{str.encoding} String cannot be converted to UTF-8")
        end
      end
      refuse("bad_utf8", path, "the String is not valid #{str.encoding}") unless str.valid_encoding?
      refuse("bad_value", path, "the String contains a NUL character") if str.include?("\0")
      str
    end

    def describe(obj)
      s = obj.inspect
      "#{obj.class} (#{s.length > 40 ? "#{s[0, 37]}..." : s})"
    end
  end
end
